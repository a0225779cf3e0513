package program

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Meter measures what the process groups of running programs use: the
// resident memory and the CPU time summed over every process whose
// process group is one of the meter's (a wrapper script's children
// included), read from /proc/<pid>/stat. Call Sample periodically (every
// ~100 ms); the peak RSS is the highest sum any sample saw, so a spike
// shorter than the period can be missed. Linux only: elsewhere Sample
// returns an error.
//
//	m := program.NewMeter(p.Pid())
//	for range ticker.C { m.Sample() }
//	rss, cpu := m.PeakRSS(), m.CPU()
type Meter struct {
	mu     sync.Mutex
	groups map[int]bool
	procs  map[int]*procSeen // every process seen in one of the groups
	peak   uint64
	now    uint64
	gone   time.Duration // CPU of processes gone whose parent was not metered
	ticks  float64       // clock ticks per second: USER_HZ, 100 on Linux (sysconf would need cgo)
	page   uint64
}

type procSeen struct {
	ppid int
	cpu  time.Duration // own + reaped children's user+system time, last seen
	seen bool          // seen by the latest sample
}

// NewMeter meters the process groups pgids (a Process's Pid is its group's).
func NewMeter(pgids ...int) *Meter {
	m := &Meter{groups: map[int]bool{}, procs: map[int]*procSeen{}, ticks: 100, page: uint64(os.Getpagesize())}
	for _, g := range pgids {
		m.groups[g] = true
	}
	return m
}

// Add meters one more process group.
func (m *Meter) Add(pgid int) {
	m.mu.Lock()
	m.groups[pgid] = true
	m.mu.Unlock()
}

// Sample reads /proc once and returns the groups' resident bytes now, the
// CPU time they used so far and the number of their live processes.
func (m *Meter) Sample() (rss uint64, cpu time.Duration, procs int, err error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, 0, 0, fmt.Errorf("program: meter: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.procs {
		p.seen = false
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil || !m.groups[st.pgid] {
			continue // gone meanwhile, or not ours
		}
		procs++
		rss += st.rssPages * m.page
		c := m.duration(st.utime + st.stime + st.cutime + st.cstime)
		m.procs[pid] = &procSeen{ppid: st.ppid, cpu: c, seen: true}
	}
	// A process gone since the last sample: if its parent is metered too,
	// the parent's reaped-children time now holds its CPU; otherwise (the
	// group's leader, reaped by us) keep its last figure.
	for pid, p := range m.procs {
		if p.seen {
			continue
		}
		if parent, ok := m.procs[p.ppid]; !ok || !parent.seen {
			m.gone += p.cpu
		}
		delete(m.procs, pid)
	}
	cpu = m.gone
	for _, p := range m.procs {
		cpu += p.cpu
	}
	m.now = rss
	m.peak = max(m.peak, rss)
	return rss, cpu, procs, nil
}

func (m *Meter) duration(ticks uint64) time.Duration {
	return time.Duration(float64(ticks) / m.ticks * float64(time.Second))
}

// PeakRSS is the highest summed resident memory a sample saw, in bytes.
func (m *Meter) PeakRSS() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peak
}

// CPU is the user+system CPU time the groups used up to the last sample.
func (m *Meter) CPU() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	cpu := m.gone
	for _, p := range m.procs {
		cpu += p.cpu
	}
	return cpu
}

// Rusage is the CPU time (user+system) and the peak RSS of the largest
// single process of an exited program, from wait4: its own and every
// descendant it reaped. ok is false while the process runs.
//
// On Linux maxRSS is at least the starting process's own resident memory
// at the start: Go starts a child with vfork (the child shares the
// parent's memory until exec), and exec records that memory's high-water
// mark as the child's. It measures a program only when the parent is
// much smaller; otherwise ask the program (VmHWM of /proc/self/status at
// its exit, as `tickflow sink --json` reports peak_rss_bytes) or sample
// it with a Meter.
func (p *Process) Rusage() (cpu time.Duration, maxRSS uint64, ok bool) {
	if !p.Exited() || p.cmd.ProcessState == nil {
		return 0, 0, false
	}
	ru, isRU := p.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !isRU {
		return 0, 0, false
	}
	cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return cpu, uint64(ru.Maxrss) * 1024, true // Linux reports ru_maxrss in KiB
}

// stat is what Meter reads of /proc/<pid>/stat.
type stat struct {
	ppid, pgid                   int
	utime, stime, cutime, cstime uint64
	rssPages                     uint64
}

func readStat(pid int) (stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, err
	}
	return parseStat(b)
}

// parseStat parses /proc/<pid>/stat (proc(5)). The command name, field 2,
// is in parentheses and may hold spaces and parentheses itself, so fields
// are counted from the last ')'.
func parseStat(b []byte) (stat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return stat{}, fmt.Errorf("program: malformed /proc stat: %q", b)
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state); field n is f[n-3].
	if len(f) < 22 {
		return stat{}, fmt.Errorf("program: short /proc stat: %q", b)
	}
	num := func(n int) uint64 {
		v, _ := strconv.ParseUint(string(f[n-3]), 10, 64)
		return v
	}
	return stat{
		ppid: int(num(4)), pgid: int(num(5)),
		utime: num(14), stime: num(15), cutime: num(16), cstime: num(17),
		rssPages: num(24),
	}, nil
}
