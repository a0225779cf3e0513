package dashboard

import (
	"context"
	"errors"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tickflow/tickflow/harness/lake"
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
// objects' HEADs, not a read of the lake. It also lists the bucket's
// top-level folders every foldersEvery, for the page's prefix selector.
type lakeSampler struct {
	store objstore.Store
	loc   lakeLocation

	mu      sync.Mutex
	objs    map[string]*lakeObject
	root    string // the table root the objects are under
	topAt   time.Time
	top     []PrefixView
	topMore bool
	topErr  string
}

// foldersEvery is how often the bucket's top-level folders are listed
// (one listing of the whole store).
const foldersEvery = 10 * time.Second

// maxPrefixes bounds the top-level folders the page lists.
const maxPrefixes = 200

// lakeLocation is what the Lake panel watches.
type lakeLocation struct {
	// prefix is the watched folder ("" or ending in "/").
	prefix string
	// fixed, when set, is the table root (no detection): the root's
	// stock_ticks/, or the location of a table definition.
	fixed string
	def   *lake.TableDef // a table definition given with Target.Table
}

// newLakeLocation resolves a watched prefix: the bucket root means
// stock_ticks/; a table definition fixes the root at its location (as
// lake.Check finds it); any other folder is detected at each sample.
func newLakeLocation(prefix string, def *lake.TableDef) lakeLocation {
	p := strings.Trim(prefix, "/")
	if p != "" {
		p += "/"
	}
	loc := lakeLocation{prefix: p, def: def}
	switch {
	case def != nil && def.Location != "":
		_, rest, _ := strings.Cut(def.Location, "://")
		_, path, _ := strings.Cut(rest, "/")
		if path != "" && !strings.HasSuffix(path, "/") {
			path += "/"
		}
		loc.fixed = p + path
	case def != nil:
		loc.fixed = p + def.Name + "/"
	case p == "":
		loc.fixed = tick.Table + "/"
	}
	return loc
}

// rootOf picks the table root under a detected prefix: its stock_ticks/
// folder when it has one (the prefix holds the sink's table, as for
// tickflow sink --prefix), else the prefix itself (a table's own folder).
func (loc lakeLocation) rootOf(listed []objstore.Object) string {
	if loc.fixed != "" {
		return loc.fixed
	}
	st := loc.prefix + tick.Table + "/"
	for _, o := range listed {
		if strings.HasPrefix(o.Key, st) {
			return st
		}
	}
	return loc.prefix
}

// check returns the prefix and options lake.Check needs to check root with
// the stock_ticks contract (or the given table definition).
func (loc lakeLocation) check(root, bucket string) (string, []lake.Option) {
	switch {
	case loc.def != nil:
		return loc.prefix, []lake.Option{lake.WithTable(loc.def)}
	case root == loc.prefix+tick.Table+"/":
		return loc.prefix, nil
	}
	// A folder of its own: the stock_ticks contract applied to it, named
	// after the folder.
	def := *lake.StockTicks()
	def.Name = path.Base(strings.TrimSuffix(root, "/"))
	def.Location = "s3://" + bucket + "/" + root
	return "", []lake.Option{lake.WithTable(&def)}
}

type lakeObject struct {
	size      int64
	rows, end int64 // -1 until the metadata is read
	partition int32
	start     int64
	dt, hour  string
	seen      time.Time
}

func newLakeSampler(store objstore.Store, loc lakeLocation) *lakeSampler {
	return &lakeSampler{store: store, loc: loc, objs: map[string]*lakeObject{}}
}

// location returns the table root of the latest sample (the fixed or
// detected one before the first).
func (l *lakeSampler) location() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.root == "" {
		if l.loc.fixed != "" {
			return l.loc.fixed
		}
		return l.loc.prefix
	}
	return l.root
}

func (l *lakeSampler) sample(ctx context.Context) (LakeView, error) {
	lv := LakeView{Folders: []FolderView{}, Newest: []ObjectView{}, Prefixes: []PrefixView{}}
	l.folders(ctx, &lv)
	list := l.loc.fixed
	if list == "" {
		list = l.loc.prefix
	}
	listed, err := l.store.List(ctx, list)
	if err != nil {
		lv.Location = l.location()
		return lv, err
	}
	root := l.loc.rootOf(listed)
	lv.Location = root
	if root != list {
		kept := listed[:0:0]
		for _, o := range listed {
			if strings.HasPrefix(o.Key, root) {
				kept = append(kept, o)
			}
		}
		listed = kept
	}
	now := time.Now()
	l.mu.Lock()
	l.root = root
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

// folders lists the bucket's top-level folders (at most every
// foldersEvery) into lv.Prefixes, for the page's selector.
func (l *lakeSampler) folders(ctx context.Context, lv *LakeView) {
	l.mu.Lock()
	due := l.topAt.IsZero() || time.Since(l.topAt) >= foldersEvery
	l.mu.Unlock()
	if due {
		listed, err := l.store.List(ctx, "")
		l.mu.Lock()
		l.topAt = time.Now()
		if err != nil {
			l.topErr = "listing the bucket's folders: " + err.Error()
		} else {
			l.top, l.topMore, l.topErr = topFolders(listed)
		}
		l.mu.Unlock()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lv.Prefixes = append(lv.Prefixes, l.top...)
	lv.PrefixesTruncated = l.topMore
	lv.PrefixesError = l.topErr
}

// topFolders sums objects and bytes per top-level folder ("a/"); objects
// at the root itself are under "".
func topFolders(listed []objstore.Object) ([]PrefixView, bool, string) {
	by := map[string]*PrefixView{}
	for _, o := range listed {
		name := ""
		if i := strings.Index(o.Key, "/"); i >= 0 {
			name = o.Key[:i+1]
		}
		pv := by[name]
		if pv == nil {
			pv = &PrefixView{Prefix: name}
			by[name] = pv
		}
		pv.Objects++
		pv.Bytes += o.Size
	}
	out := make([]PrefixView, 0, len(by))
	for _, pv := range by {
		out = append(out, *pv)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Prefix < out[j].Prefix })
	more := len(out) > maxPrefixes
	return out[:min(len(out), maxPrefixes)], more, ""
}
