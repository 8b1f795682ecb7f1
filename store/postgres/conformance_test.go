package postgres_test

import (
	"testing"

	"github.com/starling-social/starling/store/postgres/pgtest"
	"github.com/starling-social/starling/store/storetest"
)

// TestConformance runs the store conformance suite against PostgreSQL, on a
// fresh database per subtest. Without PostgreSQL it fails (pgtest.NewDB
// says how to start it); it never skips.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return pgtest.NewDB(t) })
}
