//go:build unix

package broker

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive, non-blocking advisory lock: a second world on
// the same DataDir would corrupt kfake's segments and the bolt file.
func lockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

func unlockFile(f *os.File) { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
