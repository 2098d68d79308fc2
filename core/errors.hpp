#pragma once

// The error kinds of Django's session layer, plus the ones an administrator's
// tool needs. Each maps to one exit code in cli/ (cli/exit_codes.hpp).

#include <stdexcept>
#include <string>

namespace sessionctl {

class SessionError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// save(must_create=True) found the key taken (Django's CreateError).
class CreateError : public SessionError {
public:
    CreateError() : SessionError("session key already exists") {}
    using SessionError::SessionError;
};

// save() of a session whose record vanished meanwhile (Django's UpdateError):
// never resurrect it.
class UpdateError : public SessionError {
public:
    UpdateError() : SessionError("session was deleted before it could be saved") {}
    using SessionError::SessionError;
};

// A key that must not reach a store (Django's InvalidSessionKey / a key that
// fails _validate_session_key where the caller insisted on it).
class InvalidSessionKey : public SessionError {
public:
    using SessionError::SessionError;
};

// What Python raises from the expiry functions (TypeError/ValueError), with the
// Python class name so tests can compare with Django's vectors.
class ExpiryError : public SessionError {
public:
    ExpiryError(std::string python_class, const std::string& message)
        : SessionError(message), python_class_(std::move(python_class)) {}
    [[nodiscard]] const std::string& python_class() const { return python_class_; }

private:
    std::string python_class_;
};

// A value that JSONSerializer cannot write (Python's TypeError from json.dumps).
class SerializationError : public SessionError {
public:
    using SessionError::SessionError;
};

// The store itself failed: unreachable, locked, timed out (retrying may help).
class StoreUnavailable : public SessionError {
public:
    using SessionError::SessionError;
};

// The store answered, but what it holds or how it is set up is wrong
// (missing table, not a database, unreadable record).
class StoreError : public SessionError {
public:
    using SessionError::SessionError;
};

// The configured store is not there: no such database file, directory or
// django_session table. A configuration problem (exit 2), not an outage.
class StoreMissing : public StoreError {
public:
    using StoreError::StoreError;
};

// The store holds something that is not what Django writes: not a database,
// a corrupt file (exit 4). Nothing is written to it.
class StoreCorrupt : public StoreError {
public:
    using StoreError::StoreError;
};

}  // namespace sessionctl
