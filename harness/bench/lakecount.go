package bench

import (
	"context"
	"fmt"

	"github.com/tickflow/tickflow/harness/lake/rowid"
	"github.com/tickflow/tickflow/harness/objstore"
)

// volumeBase is the volume of the bench's first tick: the bench numbers
// its ticks' volume volumeBase, volumeBase+1, … so a row in a consumer's
// lake, in whatever layout, names the record it came from. Nine digits,
// like most synthetic volumes, so the records keep their size.
const volumeBase = 100_000_000

// lakeCount counts the distinct bench records in a consumer's objects
// under a prefix, by the volume field of each row: JSON (one document per
// object, JSON Lines, arrays), CSV with a header naming a volume column,
// or Parquet with a top-level volume column, each maybe gzip-compressed.
// Keys with a part starting with "_" or "." are skipped, as Athena skips
// them. An object is read again only when its size changes, so an
// overwrite of the same size goes unseen: the count is the consumer
// phase's drain signal for a program that does not commit, not a verdict
// (`tickflow scenario run --consumer` gives that).
type lakeCount struct {
	store      objstore.Store
	prefix     string
	lo, hi     int64 // volumes that are records of this run: [lo, hi)
	objs       map[string]lakeObj
	refs       map[int64]int // volume → objects holding it
	unreadable map[string]error
}

type lakeObj struct {
	size int64
	vols []int64
}

func newLakeCount(st objstore.Store, prefix string, records int64) *lakeCount {
	return &lakeCount{store: st, prefix: prefix, lo: volumeBase, hi: volumeBase + records,
		objs: map[string]lakeObj{}, refs: map[int64]int{}, unreadable: map[string]error{}}
}

// scan lists the prefix, reads new and changed objects and returns the
// number of distinct records the lake holds now.
func (l *lakeCount) scan(ctx context.Context) (int64, error) {
	list, err := l.store.List(ctx, l.prefix)
	if err != nil {
		return 0, fmt.Errorf("list %s: %w", l.prefix, err)
	}
	seen := make(map[string]bool, len(list))
	for _, o := range list {
		if rowid.Hidden(l.prefix, o.Key) || seen[o.Key] {
			continue
		}
		seen[o.Key] = true
		if old, ok := l.objs[o.Key]; ok && old.size == o.Size {
			continue
		}
		body, _, err := l.store.Get(ctx, o.Key)
		if err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			continue // deleted meanwhile; the next scan sees
		}
		vols, err := l.volumes(body)
		if err != nil {
			l.unreadable[o.Key] = err
		} else {
			delete(l.unreadable, o.Key)
		}
		l.drop(o.Key)
		l.objs[o.Key] = lakeObj{size: o.Size, vols: vols}
		for _, v := range vols {
			l.refs[v]++
		}
	}
	for k := range l.objs {
		if !seen[k] {
			l.drop(k)
		}
	}
	return int64(len(l.refs)), nil
}

func (l *lakeCount) drop(key string) {
	for _, v := range l.objs[key].vols {
		if l.refs[v]--; l.refs[v] <= 0 {
			delete(l.refs, v)
		}
	}
	delete(l.objs, key)
}

// volumes returns the volumes of this run's records in one object.
func (l *lakeCount) volumes(body []byte) ([]int64, error) {
	var vols []int64
	add := func(v int64) {
		if v >= l.lo && v < l.hi {
			vols = append(vols, v)
		}
	}
	err := eachVolume(body, add)
	return vols, err
}

// eachVolume calls fn with the volume of every row of an object.
func eachVolume(body []byte, fn func(int64)) error {
	rows, err := rowid.Read(body)
	for _, r := range rows {
		if r.OK {
			fn(r.Seq)
		}
	}
	return err
}
