package logging

import "os"

// redeliver ends the process: Windows cannot send a process a signal, and
// the default action of the console events Go reports as signals (Ctrl-C,
// Ctrl-Break, close, logoff, shutdown) is to exit. The status is
// STATUS_CONTROL_C_EXIT, what Windows reports for a console program ended
// by Ctrl-C.
func redeliver(os.Signal) {
	os.Exit(0xC000013A)
}
