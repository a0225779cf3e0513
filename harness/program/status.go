package program

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// StatusField reads a field of /proc/<pid>/status ("VmHWM", "VmRSS": the
// "123 kB" values in bytes; others as the number they hold) for pid, or
// for the calling process when pid is 0. It is 0 where there is no such
// process, no /proc or no such field.
func StatusField(pid int, field string) uint64 {
	path := "/proc/self/status"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return parseStatus(b, field)
}

// parseStatus finds "field:   123 kB" in /proc/<pid>/status content.
func parseStatus(b []byte, field string) uint64 {
	for line := range bytes.Lines(b) {
		name, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok || string(name) != field {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) == 0 {
			return 0
		}
		v, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			return 0
		}
		if len(f) > 1 && string(f[1]) == "kB" {
			v *= 1024
		}
		return v
	}
	return 0
}
