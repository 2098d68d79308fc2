# fish completion for sessionctl. Install: copy to ~/.config/fish/completions/
set -l commands inspect decode create delete expire clearsessions stats copy rekey config

complete -c sessionctl -f
complete -c sessionctl -n "not __fish_seen_subcommand_from $commands" -a inspect -d 'Show stored sessions'
complete -c sessionctl -n "not __fish_seen_subcommand_from $commands" -a decode -d 'Decode a session value or signed cookie'
complete -c sessionctl -n "not __fish_seen_subcommand_from $commands" -a create -d 'Create a session Django accepts'
complete -c sessionctl -n "not __fish_seen_subcommand_from $commands" -a delete -d 'Delete sessions'
complete -c sessionctl -n "not __fish_seen_subcommand_from $commands" -a expire -d 'Change expiry as set_expiry() would'
complete -c sessionctl -n "not __fish_seen_subcommand_from $commands" -a clearsessions -d 'Remove expired sessions'
complete -c sessionctl -n "not __fish_seen_subcommand_from $commands" -a stats -d 'Count sessions, users, sizes and expiry'
complete -c sessionctl -n "not __fish_seen_subcommand_from $commands" -a copy -d 'Copy sessions to another store'
complete -c sessionctl -n "not __fish_seen_subcommand_from $commands" -a rekey -d 'Re-sign sessions that depend on a fallback key'
complete -c sessionctl -n "not __fish_seen_subcommand_from $commands" -a config -d 'Show the effective settings'

# global
complete -c sessionctl -l config -r -F -d 'Config file (JSON of Django setting names)'
complete -c sessionctl -l engine -x -a 'db file cache cached_db signed_cookies' -d 'SESSION_ENGINE for this run'
complete -c sessionctl -l set -x -d 'Override one setting: KEY=VALUE'
complete -c sessionctl -l json -d 'Machine-readable output'
complete -c sessionctl -s q -l quiet -d 'Print nothing but errors'
complete -c sessionctl -s v -l verbose -d 'Say more'
complete -c sessionctl -l version -d 'Print the version and the engines built in'
complete -c sessionctl -s h -l help -d 'Show help'

# inspect
complete -c sessionctl -n '__fish_seen_subcommand_from inspect delete expire copy' -l stdin -d 'Read keys from standard input'
complete -c sessionctl -n '__fish_seen_subcommand_from inspect delete expire copy' -s 0 -l null -d 'With --stdin: NUL-separated keys'
complete -c sessionctl -n '__fish_seen_subcommand_from inspect' -l all -d 'Scan every stored session'
complete -c sessionctl -n '__fish_seen_subcommand_from inspect delete copy' -l user -x -d 'Only this user id'
complete -c sessionctl -n '__fish_seen_subcommand_from inspect delete copy' -l where -x -d 'PATH=VALUE in the session data'
complete -c sessionctl -n '__fish_seen_subcommand_from inspect delete stats' -l dead -d 'Logins Django would no longer accept'
complete -c sessionctl -n '__fish_seen_subcommand_from inspect' -l expired -d 'Only expired sessions'
complete -c sessionctl -n '__fish_seen_subcommand_from inspect' -l live -d 'Only live sessions'
complete -c sessionctl -n '__fish_seen_subcommand_from inspect' -l keys-only -d 'Print only the keys'
complete -c sessionctl -n '__fish_seen_subcommand_from inspect' -l limit -x -d 'Show at most N sessions'
# decode
complete -c sessionctl -n '__fish_seen_subcommand_from decode' -l stdin -d 'Read the value from standard input'
complete -c sessionctl -n '__fish_seen_subcommand_from decode' -l signed-cookie -d 'Decode a signed_cookies cookie value'
complete -c sessionctl -n '__fish_seen_subcommand_from decode' -l salt -x -d 'Signing salt'
complete -c sessionctl -n '__fish_seen_subcommand_from decode' -l no-verify -d 'Show the payload even when unverified'
complete -c sessionctl -n '__fish_seen_subcommand_from decode' -l max-age -x -d 'Reject values signed more than SECONDS ago'
# create
complete -c sessionctl -n '__fish_seen_subcommand_from create' -l data -x -d 'Session data as a JSON object'
complete -c sessionctl -n '__fish_seen_subcommand_from create' -l data-file -r -F -d 'Session data from a JSON file'
complete -c sessionctl -n '__fish_seen_subcommand_from create' -l user -x -d 'Log in this user id'
complete -c sessionctl -n '__fish_seen_subcommand_from create' -l password-hash -x -d "The user's password hash (- for stdin)"
complete -c sessionctl -n '__fish_seen_subcommand_from create' -l auth-backend -x -d 'Authentication backend path'
complete -c sessionctl -n '__fish_seen_subcommand_from create' -l expiry -x -a 'browser-close' -d 'Seconds, ISO 8601, or browser-close'
complete -c sessionctl -n '__fish_seen_subcommand_from create' -l storage-state -r -F -d 'Write a Playwright storage state'
complete -c sessionctl -n '__fish_seen_subcommand_from create' -l cookie-jar -r -F -d 'Write a Netscape cookie file (curl -b)'
complete -c sessionctl -n '__fish_seen_subcommand_from create' -l url -x -d 'The site, for the cookie domain'
# delete / clearsessions
complete -c sessionctl -n '__fish_seen_subcommand_from delete expire clearsessions copy rekey' -l dry-run -d 'Show what would happen; change nothing'
complete -c sessionctl -n '__fish_seen_subcommand_from clearsessions' -l lock -r -F -d 'Exclusive lock file'
complete -c sessionctl -n '__fish_seen_subcommand_from clearsessions' -l batch-size -x -d 'At most N sessions per transaction'
complete -c sessionctl -n '__fish_seen_subcommand_from clearsessions' -l sleep -x -d 'Pause SECONDS between batches'
complete -c sessionctl -n '__fish_seen_subcommand_from clearsessions copy' -l max-runtime -x -d 'Start no batch after SECONDS'
complete -c sessionctl -n '__fish_seen_subcommand_from clearsessions' -l one-transaction -d 'All in one transaction (maintenance window)'
complete -c sessionctl -n '__fish_seen_subcommand_from clearsessions' -l include-temp -d 'File engine: also remove stale _out_ temp files'
# expire
complete -c sessionctl -n '__fish_seen_subcommand_from expire' -l in -x -d 'set_expiry(SECONDS)'
complete -c sessionctl -n '__fish_seen_subcommand_from expire' -l at -x -d 'set_expiry(ISO 8601 date-time)'
complete -c sessionctl -n '__fish_seen_subcommand_from expire' -l browser-close -d 'set_expiry(0)'
complete -c sessionctl -n '__fish_seen_subcommand_from expire' -l default -d 'set_expiry(None)'
complete -c sessionctl -n '__fish_seen_subcommand_from expire' -l now -d 'Expire immediately'
# stats
complete -c sessionctl -n '__fish_seen_subcommand_from stats' -l top -x -d 'List the N users with the most sessions'
complete -c sessionctl -n '__fish_seen_subcommand_from stats' -l prometheus -d 'Prometheus textfile-collector metrics'
# copy
complete -c sessionctl -n '__fish_seen_subcommand_from copy' -l to -r -F -d 'Config file of the target store'
complete -c sessionctl -n '__fish_seen_subcommand_from copy' -l overwrite -d 'Replace target sessions that hold other data'
complete -c sessionctl -n '__fish_seen_subcommand_from copy' -l overwrite-older -d 'Replace only target sessions that expire earlier'
complete -c sessionctl -n '__fish_seen_subcommand_from copy' -l move -d 'Delete each copied session from the source'
