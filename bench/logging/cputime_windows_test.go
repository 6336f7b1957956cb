package loggingbench

import "golang.org/x/sys/windows"

// cpuTime returns the process's user+system CPU time in nanoseconds.
func cpuTime() int64 {
	var creation, exit, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(windows.CurrentProcess(), &creation, &exit, &kernel, &user); err != nil {
		return 0
	}
	// Filetimes count 100ns intervals; as durations they start at zero.
	return (int64(kernel.HighDateTime)<<32 + int64(kernel.LowDateTime) + int64(user.HighDateTime)<<32 + int64(user.LowDateTime)) * 100
}
