//go:build !linux

package reuseport

// Balances is false off Linux: the BSDs and macOS accept SO_REUSEPORT but
// do not spread connections over the sockets (one of them takes all), and
// Windows has no such option. Control then sets nothing, and every address
// is bound once.
const Balances = false

func setReusePort(uintptr) error { return nil }
