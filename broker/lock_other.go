//go:build !unix

package broker

import "os"

// lockFile is a no-op where flock is unavailable; bolt's own lock (with a
// timeout) still refuses a second world on the same DataDir.
func lockFile(*os.File) error { return nil }

func unlockFile(*os.File) {}
