package cli_test

import "syscall"

// maxrssKiB is ru_maxrss in KiB (Linux reports KiB).
func maxrssKiB(ru *syscall.Rusage) int64 { return ru.Maxrss }
