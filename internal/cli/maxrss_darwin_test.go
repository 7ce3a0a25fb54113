package cli_test

// maxrssKiB is ru_maxrss in KiB (macOS reports bytes).
func maxrssKiB(maxrss int64) int64 { return maxrss / 1024 }
