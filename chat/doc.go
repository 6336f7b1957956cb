// Package chat is wharfd's built-in application (SPEC §2): register, log in,
// say something, and receive what every logged-in user says. The same App
// serves the packet protocol (codes 5, 6, 7 and pushes with code 8, on TCP
// and KCP alike) and the web app (package web), so an account made on one
// works on the others and a message said on one reaches all of them.
//
// Request and reply bodies are JSON:
//
//	5 register  {"username": "...", "password": "..."}  ->  {"ok": true, "user_id": N} | {"ok": false, "error": "..."}
//	6 login     {"username": "...", "password": "..."}  ->  {"ok": true, "user_id": N, "token": "..."} | {"ok": false, "error": "..."}
//	7 say       {"text": "..."} (after login)          ->  {"ok": true} | {"ok": false, "error": "..."}
//	8 message   pushed to every logged-in connection:   {"from": "alice", "text": "...", "ts": <unix ms>}
//
// A body that is not the JSON object expected gets a code 1 error reply
// {"code": <code>, "error": "malformed JSON: ..."}.
//
// Logins are throttled against password guessing: failed attempts are
// limited per client IP and per username (Config.FailuresPerIP and
// FailuresPerUser); a throttled attempt is refused before any password
// hashing. Successful logins cost no tokens, so a busy but honest client is
// never throttled.
package chat
