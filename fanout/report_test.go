package fanout

import (
	"context"
	"testing"

	"github.com/starling-social/starling/store/postgres/pgtest"
)

// TestReportShowsFailedMessages: a message a consumer gave up on is in the
// admin report, with its consumer, subject, attempts and error.
func TestReportShowsFailedMessages(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	if err := db.RecordFailedMessage(ctx, "fanout", "starling.outbox.create", []byte(`{"activity_id":1}`), 10, "boom"); err != nil {
		t.Fatal(err)
	}
	rep, err := (&Reporter{Store: db}).DeliveryReport(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := rep.(*Report).FailedMessages
	if len(got) != 1 || got[0].Consumer != "fanout" || got[0].Subject != "starling.outbox.create" ||
		got[0].Attempts != 10 || got[0].Error != "boom" || got[0].Payload != `{"activity_id":1}` {
		t.Errorf("failed messages in the report: %+v", got)
	}
}
