# bash completion for sessionctl                      -*- shell-script -*-
# Install: copy to /usr/share/bash-completion/completions/sessionctl
_sessionctl()
{
    local cur prev words cword
    _init_completion || return

    local global_opts="--config --engine --set --json -q --quiet -v --verbose --version -h --help"
    local commands="inspect decode create delete expire clearsessions stats copy rekey config"

    case $prev in
        --config|--data-file|--lock|--to|--storage-state|--cookie-jar)
            _filedir
            return ;;
        --engine)
            COMPREPLY=($(compgen -W "db file cache cached_db signed_cookies" -- "$cur"))
            return ;;
        --set)
            COMPREPLY=($(compgen -S = -W "SESSION_ENGINE SECRET_KEY_FILE SECRET_KEY_FALLBACKS_FILE SESSION_COOKIE_AGE SESSION_COOKIE_NAME SESSION_EXPIRE_AT_BROWSER_CLOSE SESSION_FILE_PATH SESSION_CACHE_ALIAS SESSION_SERIALIZER SESSION_STORE_CLASS USE_TZ TIME_ZONE DATABASES CACHES AUTH_USER_MODEL AUTH_USER_TABLE AUTHENTICATION_BACKENDS SESSION_COOKIE_DOMAIN SESSION_COOKIE_PATH SESSION_COOKIE_SECURE SESSION_COOKIE_HTTPONLY SESSION_COOKIE_SAMESITE" -- "$cur"))
            compopt -o nospace
            return ;;
        --expiry)
            COMPREPLY=($(compgen -W "browser-close" -- "$cur"))
            return ;;
        --user|--where|--limit|--salt|--max-age|--data|--password-hash|--auth-backend|--url|--in|--at|--top|--batch-size|--sleep|--max-runtime)
            return ;;
    esac

    local command="" i
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --config|--engine|--set) ((i++)) ;;
            -*) ;;
            *) command=${words[i]}; break ;;
        esac
    done

    local opts
    case $command in
        "") COMPREPLY=($(compgen -W "$commands $global_opts" -- "$cur")); return ;;
        inspect) opts="--stdin -0 --null --all --user --where --dead --expired --live --keys-only --limit" ;;
        decode) opts="--stdin --signed-cookie --salt --no-verify --max-age" ;;
        create) opts="--data --data-file --user --password-hash --auth-backend --expiry --storage-state --cookie-jar --url" ;;
        delete) opts="--stdin -0 --null --user --where --dead --dry-run" ;;
        expire) opts="--stdin -0 --null --in --at --browser-close --default --now --dry-run" ;;
        clearsessions) opts="--dry-run --lock --batch-size --sleep --max-runtime --one-transaction --include-temp" ;;
        stats) opts="--top --prometheus --dead" ;;
        copy) opts="--to --stdin -0 --null --user --where --dry-run --overwrite --overwrite-older --move --max-runtime" ;;
        rekey) opts="--dry-run" ;;
        config) opts="" ;;
    esac
    COMPREPLY=($(compgen -W "$opts $global_opts" -- "$cur"))
}
complete -F _sessionctl sessionctl
