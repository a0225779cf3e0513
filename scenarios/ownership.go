package scenarios

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tickflow/tickflow/harness/lake/rowid"
)

// Who owned which partition when: a user's consumer is judged on "writes
// after fencing" — an S3 write carrying records of a partition its writer
// no longer owned (a zombie thawed after its partitions moved, a member
// still flushing after a revocation). The group's assignment comes from
// DescribeGroups, sampled while the group is Stable (assignments in the
// middle of a rebalance are not final); a member is mapped to its process
// by the TCP source port of its group connection (the broker reports it as
// the member's client host) found among the sockets the process holds.

// ownSnap is one Stable assignment: partition → instance (-1: a member
// that is not one of the consumer's processes, or could not be mapped).
type ownSnap struct {
	at    time.Time
	owner map[int32]int
}

type ownership struct {
	mu     sync.Mutex
	snaps  []ownSnap
	member map[string]int // member ID → instance
}

// watchOwnership samples the group's assignment every 100 ms until ctx
// ends.
func (e *env) watchOwnership(ctx context.Context) *ownership {
	o := &ownership{member: map[string]int{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			o.sample(ctx, e)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	e.closers = append(e.closers, func() { <-done })
	return o
}

func (o *ownership) sample(ctx context.Context, e *env) {
	gs, err := e.adm.DescribeGroups(ctx, e.group)
	if err != nil {
		return
	}
	g, ok := gs[e.group]
	if !ok || g.Err != nil || g.State != "Stable" {
		return
	}
	owner := map[int32]int{}
	for _, m := range g.Members {
		inst := o.instance(e, m.MemberID, m.ClientHost)
		ca, ok := m.Assigned.AsConsumer()
		if !ok {
			continue
		}
		for _, t := range ca.Topics {
			if t.Topic != e.topic {
				continue
			}
			for _, p := range t.Partitions {
				owner[p] = inst
			}
		}
	}
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	if n := len(o.snaps); n > 0 && maps.Equal(o.snaps[n-1].owner, owner) {
		return
	}
	o.snaps = append(o.snaps, ownSnap{at: now, owner: owner})
}

// instance maps a member to its consumer process, once.
func (o *ownership) instance(e *env, memberID, clientHost string) int {
	o.mu.Lock()
	inst, ok := o.member[memberID]
	o.mu.Unlock()
	if ok {
		return inst
	}
	inst = e.processOfPort(clientHost)
	if inst >= 0 {
		o.mu.Lock()
		o.member[memberID] = inst
		o.mu.Unlock()
	}
	return inst
}

// processOfPort finds the consumer instance holding the local end of the
// TCP connection whose client address is hostPort ("127.0.0.1:PORT" or
// "/127.0.0.1:PORT"); -1 when none does (Linux only: /proc).
func (e *env) processOfPort(hostPort string) int {
	_, port, err := net.SplitHostPort(strings.TrimPrefix(hostPort, "/"))
	if err != nil {
		return -1
	}
	pn, err := strconv.Atoi(port)
	if err != nil {
		return -1
	}
	inodes := socketInodes(pn)
	if len(inodes) == 0 {
		return -1
	}
	e.mu.Lock()
	procs := append([]*sinkProc(nil), e.procs...)
	e.mu.Unlock()
	groups := map[int]int{} // process group → instance
	for _, p := range procs {
		if !p.exited() {
			groups[p.Pid()] = p.instance
		}
	}
	for pid, pgid := range processGroups() {
		inst, ok := groups[pgid]
		if !ok {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "fd"))
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "fd", fd.Name()))
			if err == nil && inodes[link] {
				return inst
			}
		}
	}
	return -1
}

// socketInodes returns "socket:[inode]" of the TCP sockets whose local port
// is port.
func socketInodes(port int) map[string]bool {
	out := map[string]bool{}
	want := fmt.Sprintf(":%04X", port)
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 10 || !strings.HasSuffix(fs[1], want) {
				continue
			}
			out["socket:["+fs[9]+"]"] = true
		}
		fh.Close()
	}
	return out
}

// processGroups maps every process to its process group.
func processGroups() map[int]int {
	out := map[int]int{}
	ents, _ := os.ReadDir("/proc")
	for _, d := range ents {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp …; comm may hold spaces and parens.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fs := strings.Fields(s[i+1:])
		if len(fs) < 3 {
			continue
		}
		if pg, err := strconv.Atoi(fs[2]); err == nil {
			out[pid] = pg
		}
	}
	return out
}

// FencedWrite is an S3 write carrying records of a partition its writer
// had owned and no longer owned when the write landed.
type FencedWrite struct {
	Object    string `json:"object"`
	Instance  int    `json:"instance"`
	Partition int32  `json:"partition"`
	Owner     int    `json:"owner"` // the instance that owned it then (-1: none, or not one of the consumer's)
	Since     string `json:"since"` // how long before the write the partition had moved
}

// fenced finds the writes after fencing.
func (o *ownership) fenced(writes []s3Write, partOf func(seq int64) (int32, bool), text *rowid.Text) (int, []FencedWrite) {
	o.mu.Lock()
	snaps := append([]ownSnap(nil), o.snaps...)
	o.mu.Unlock()
	n := 0
	var ex []FencedWrite
	for _, w := range writes {
		if w.Op == "delete" || w.Instance < 0 {
			continue
		}
		rows, _ := rowid.ReadAs(w.body, text)
		parts := map[int32]bool{}
		for _, r := range rows {
			if p, ok := partOf(r.Seq); r.OK && ok {
				parts[p] = true
			}
		}
		for p := range parts {
			last, lastOwned := -1, -1
			for i, s := range snaps {
				if s.at.After(w.At) {
					break
				}
				last = i
				if owner, ok := s.owner[p]; ok && owner == w.Instance {
					lastOwned = i
				}
			}
			if lastOwned < 0 || lastOwned == last {
				continue // never owned it, or still owns it
			}
			n++
			if len(ex) < maxExamples {
				owner, ok := snaps[last].owner[p]
				if !ok {
					owner = -1
				}
				moved := snaps[lastOwned+1].at
				ex = append(ex, FencedWrite{w.Key, w.Instance, p, owner, w.At.Sub(moved).Round(time.Millisecond).String()})
			}
			break // one count per write
		}
	}
	return n, ex
}
