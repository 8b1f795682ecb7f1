// Package starling holds Starling's domain: the types every component
// speaks (accounts, statuses, follows, activities, events, notifications,
// deliveries), their validation, and the application errors with codes.
//
// It imports nothing of Starling and no dependency. Each dependency has its
// own subpackage that implements what the components need of it
// (store/postgres for PostgreSQL); each component declares the small
// interface it needs and cmd/starling wires the implementations in.
package starling

import (
	"crypto/rand"
	"encoding/binary"
	"sync/atomic"
	"time"
)

// NewID returns a time-ordered 64-bit id, as Mastodon's are: milliseconds
// since the epoch in the high 48 bits and a 16-bit sequence below, so ids
// sort by creation time and pagination by id is pagination by time. The
// sequence starts at a random point in each process and counts up, so ids
// made in one process never collide (up to 65,536 a millisecond) and ids
// made in two processes in the same millisecond rarely do.
func NewID(t time.Time) int64 {
	return t.UnixMilli()<<16 | int64(idSeq.Add(1)&0xffff)
}

// IDTime is the time NewID made id at (to the millisecond).
func IDTime(id int64) time.Time { return time.UnixMilli(id >> 16) }

// idSeq is the process-wide sequence of NewID: ids must be unique across
// every goroutine of the process, so this one counter is shared on purpose.
var idSeq = func() *atomic.Uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	var n atomic.Uint64
	n.Store(binary.BigEndian.Uint64(b[:]))
	return &n
}()
