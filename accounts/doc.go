// Package accounts provides wharf's user accounts: registration, password
// checking, login sessions, and the database they live in. The same account
// works over the packet protocol (register code 5, login code 6), over KCP and
// in the web app (POST /api/register, /api/login, /api/logout, GET /api/me
// with a session cookie): every transport calls one Service.
//
// # Using it
//
//	store, err := accounts.Open(ctx, "sqlite://data/wharf.db", accounts.StoreOptions{})
//	// handle err; defer store.Close()
//	svc, err := accounts.NewService(store, accounts.Config{})
//	user, err := svc.Register(ctx, "alice", "correct horse")
//	user, token, err := svc.Login(ctx, "alice", "correct horse")
//	user, err = svc.Authenticate(ctx, token) // on every later request
//	err = svc.Logout(ctx, token)
//
// Service methods block on bcrypt and on the database; call them from
// handler goroutines, never from an event loop.
//
// # Usernames and passwords
//
// A username is 3 to 32 characters of [A-Za-z0-9_.-]. Names are unique
// regardless of letter case: once "Alice" exists, "alice" can neither
// register nor be told apart at login, and logging in as "ALICE" reaches
// Alice's account. The name keeps the spelling it was registered with. This
// prevents accounts that differ only in case, which would be easy to
// impersonate in a chat where names are shown to other users. Both stores enforce it
// with a unique index on the lower-cased name (computed in Go, so both agree
// on every input), which is what makes concurrent registrations of one name
// safe: exactly one wins, the others get ErrUsernameTaken.
//
// A password is 8 to 72 bytes (bytes, not characters: UTF-8 "é" counts two).
// Any bytes are allowed.
//
// # How passwords are stored, and why
//
// Passwords are stored only as bcrypt hashes (golang.org/x/crypto/bcrypt,
// "$2a$" format with a random 16-byte salt and the cost inside the hash).
// bcrypt is deliberately slow, about 50 ms of one core at the default cost 10,
// so an attacker holding a copy of the database must spend that much per
// guess per user, and the salt makes every user's hash separate work. Of the
// two schemes SPEC §2 allows, bcrypt is the one that needs no memory:
// argon2id's strength comes from memory per hash, which a server holding a
// million connections can least spare.
//
// bcrypt uses only the first 72 bytes of a password; golang.org/x/crypto
// refuses longer ones. Rather than silently truncating (two long passwords
// sharing a 72-byte prefix would then be the same password), validation
// rejects passwords over 72 bytes, so what the user typed is exactly what
// protects the account.
//
// Because bcrypt is slow on purpose, it is also a way to take a server down:
// a flood of logins could keep every core hashing. Config.MaxConcurrentHashes
// bounds the bcrypt computations running at once (default: the number of
// CPUs); further callers queue, and give up when their context ends.
//
// Login answers every failure (unknown user, wrong password, malformed
// input) with the one error ErrInvalidCredentials, and spends one bcrypt
// comparison on an unknown user too (against a dummy hash made at start-up),
// so neither the message nor the response time tells an attacker which names
// exist. Registration does reveal that a name is taken; it has to.
//
// No error, and nothing this package logs (it logs nothing), contains a
// password. Validation errors name the field and the rule, never the value.
//
// # How sessions are stored, and why
//
// Login returns a token of 32 bytes from crypto/rand, encoded as unpadded
// base64url (43 characters, safe in cookies and JSON). The store keeps only
// SHA-256 of the token string as the session's key, with the user ID and the
// creation and expiry times. A leaked database, backup or log of queries
// therefore gives nothing that can be presented as a session. A fast hash is
// enough here, unlike for passwords: the token has 256 bits of entropy, so
// there is nothing to guess. Authenticate hashes what the client presents and
// looks it up: two indexed reads and no bcrypt, cheap enough for every
// request.
//
// Sessions last Config.SessionTTL (default 24h) from login, and are not
// extended by use. Expired sessions are refused at once; PurgeExpired
// deletes them from the table and should be called periodically.
//
// # Stores
//
// Open chooses the Store from a URL. "sqlite://PATH" (the default
// configuration uses sqlite://data/wharf.db) is a file in WAL mode, written
// through one connection and read through a pool, so concurrent requests
// never fail with SQLITE_BUSY; the busy timeout covers other processes
// sharing the file. "postgres://..." uses a pool of pgx connections. Either
// creates or migrates its schema on Open: versioned, in one transaction, and
// safe when several processes open the same database at once. RedactURL
// hides the password of a URL for logs.
package accounts
