package cli_test

// maxrssKiB is ru_maxrss in KiB (Linux reports KiB).
func maxrssKiB(maxrss int64) int64 { return maxrss }
