package sqlite

import (
	"context"
	"fmt"

	"github.com/starling-social/starling"
)

// RecordFailedMessage keeps a message a consumer gave up on, for the admin.
func (db *DB) RecordFailedMessage(ctx context.Context, consumer, subject string, payload []byte, attempts int, errText string) error {
	if payload == nil {
		payload = []byte{}
	}
	_, err := db.exec(ctx, `INSERT INTO failed_messages (consumer, subject, payload, attempts, error)
		VALUES (?1, ?2, ?3, ?4, ?5)`, consumer, subject, payload, attempts, errText)
	if err != nil {
		return fmt.Errorf("sqlite: record failed message on %s: %w", subject, err)
	}
	return nil
}

// FailedMessages returns the most recent failed messages, newest first.
func (db *DB) FailedMessages(ctx context.Context, limit int) ([]starling.FailedMessage, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, consumer, subject, payload, attempts, error, failed_at
		FROM failed_messages ORDER BY id DESC LIMIT ?1`, limit)
	out, err := collect(rows, err, func(r scanner) (starling.FailedMessage, error) {
		var m starling.FailedMessage
		err := r.Scan(&m.ID, &m.Consumer, &m.Subject, &m.Payload, &m.Attempts, &m.Error, ts(&m.FailedAt))
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: failed messages: %w", err)
	}
	return out, nil
}
