package dashboard

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/sink"
	"github.com/tickflow/tickflow/harness/tick"
)

const (
	maxFolders = 48  // dt/hour folders the page lists
	maxNewest  = 12  // newest objects the page lists
	maxHeads   = 500 // object metadata reads per sample; the rest wait for the next one
	headers    = 8   // metadata reads in parallel
)

// lakeSampler lists the lake each sample and reads each object's metadata
// once (by key and size), so a sample costs one listing plus the new
// objects' HEADs, not a read of the lake.
type lakeSampler struct {
	store objstore.Store
	root  string // prefix + "stock_ticks/"

	mu   sync.Mutex
	objs map[string]*lakeObject
}

type lakeObject struct {
	size      int64
	rows, end int64 // -1 until the metadata is read
	partition int32
	start     int64
	dt, hour  string
	seen      time.Time
}

func newLakeSampler(store objstore.Store, prefix string) *lakeSampler {
	root := tick.Table + "/"
	if p := strings.Trim(prefix, "/"); p != "" {
		root = p + "/" + root
	}
	return &lakeSampler{store: store, root: root, objs: map[string]*lakeObject{}}
}

func (l *lakeSampler) sample(ctx context.Context) (LakeView, error) {
	lv := LakeView{Folders: []FolderView{}, Newest: []ObjectView{}}
	listed, err := l.store.List(ctx, l.root)
	if err != nil {
		return lv, err
	}
	now := time.Now()
	l.mu.Lock()
	present := make(map[string]bool, len(listed))
	var toHead []string
	for _, o := range listed {
		present[o.Key] = true
		lo := l.objs[o.Key]
		if lo == nil || lo.size != o.Size {
			lo = &lakeObject{size: o.Size, rows: -1, end: -1, partition: -1, seen: now}
			lo.dt, lo.hour = folderOf(o.Key)
			if _, p, start, ok := sink.ParseObjectName(o.Key); ok {
				lo.partition, lo.start = p, start
			}
			l.objs[o.Key] = lo
		}
		if lo.rows < 0 && lo.partition >= 0 && len(toHead) < maxHeads {
			toHead = append(toHead, o.Key)
		}
	}
	for k := range l.objs {
		if !present[k] {
			delete(l.objs, k)
		}
	}
	l.mu.Unlock()

	headErr := l.head(ctx, toHead)

	l.mu.Lock()
	defer l.mu.Unlock()
	type fkey struct{ dt, hour string }
	folders := map[fkey]*FolderView{}
	lastSeen := map[fkey]time.Time{}
	sizes := make([]int64, 0, len(l.objs))
	newest := make([]ObjectView, 0, len(l.objs))
	for k, o := range l.objs {
		lv.Objects++
		lv.Bytes += o.size
		sizes = append(sizes, o.size)
		if o.rows >= 0 {
			lv.Rows += o.rows
		} else if o.partition >= 0 {
			lv.Pending++
		}
		fk := fkey{o.dt, o.hour}
		f := folders[fk]
		if f == nil {
			f = &FolderView{Dt: o.dt, Hour: o.hour}
			folders[fk] = f
		}
		f.Objects++
		f.Bytes += o.size
		f.Rows += max(o.rows, 0)
		if o.seen.After(lastSeen[fk]) {
			lastSeen[fk] = o.seen
		}
		newest = append(newest, ObjectView{Key: k, Size: o.size, Rows: o.rows, Partition: o.partition, Start: o.start, End: o.end, Seen: o.seen})
	}
	sort.Slice(newest, func(i, j int) bool {
		if !newest[i].Seen.Equal(newest[j].Seen) {
			return newest[i].Seen.After(newest[j].Seen)
		}
		return newest[i].Key > newest[j].Key
	})
	lv.Newest = newest[:min(len(newest), maxNewest)]
	lv.FolderCount = len(folders)
	fs := make([]fkey, 0, len(folders))
	for k := range folders {
		fs = append(fs, k)
	}
	sort.Slice(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if !lastSeen[a].Equal(lastSeen[b]) {
			return lastSeen[a].After(lastSeen[b])
		}
		if a.dt != b.dt {
			return a.dt > b.dt
		}
		return a.hour > b.hour
	})
	for _, k := range fs[:min(len(fs), maxFolders)] {
		lv.Folders = append(lv.Folders, *folders[k])
	}
	sort.Slice(sizes, func(i, j int) bool { return sizes[i] < sizes[j] })
	if n := len(sizes); n > 0 {
		lv.Sizes = SizeSpread{Min: sizes[0], P50: sizes[(n-1)/2], P90: sizes[(n-1)*9/10], Max: sizes[n-1]}
	}
	return lv, headErr
}

// head reads the sink's metadata of keys, a few at a time. Objects that
// vanished meanwhile are dropped; other errors leave them pending.
func (l *lakeSampler) head(ctx context.Context, keys []string) error {
	var (
		wg    sync.WaitGroup
		sem   = make(chan struct{}, headers)
		errMu sync.Mutex
		first error
	)
	for _, k := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			h, err := l.store.Head(ctx, k)
			l.mu.Lock()
			defer l.mu.Unlock()
			o := l.objs[k]
			switch {
			case o == nil:
			case errors.Is(err, objstore.ErrNotFound):
				delete(l.objs, k)
			case err != nil:
				errMu.Lock()
				if first == nil {
					first = err
				}
				errMu.Unlock()
			default:
				o.rows = metaInt(h.Metadata, sink.MetaRecords, 0)
				o.end = metaInt(h.Metadata, sink.MetaEndOffset, -1)
			}
		}()
	}
	wg.Wait()
	return first
}

func metaInt(m map[string]string, k string, def int64) int64 {
	v, err := strconv.ParseInt(m[k], 10, 64)
	if err != nil {
		return def
	}
	return v
}

// folderOf finds the dt= and hour= folders of a key ("" when absent).
func folderOf(key string) (dt, hour string) {
	for _, seg := range strings.Split(key, "/") {
		if v, ok := strings.CutPrefix(seg, "dt="); ok {
			dt = v
		} else if v, ok := strings.CutPrefix(seg, "hour="); ok {
			hour = v
		}
	}
	return dt, hour
}
