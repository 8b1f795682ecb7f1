package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/starling-social/starling"
)

// The operator's view (store/postgres/operator.go, migration 00004): one
// row per (activity, inbox) delivery, the host table and trace read from
// them, the admins' decisions about hosts, and their audit. Rows that
// store/postgres passes as unnest'ed arrays are passed here as one JSON
// array and read with json_each: one statement either way.

// RecordQueuedDeliveries records that activityID was queued to inboxes
// (hosts[i] is the host of inboxes[i]) in one statement. A fan-out
// replayed later leaves existing rows as they are.
func (db *DB) RecordQueuedDeliveries(ctx context.Context, activityID int64, inboxes, hosts []string) error {
	if len(inboxes) == 0 {
		return nil
	}
	if len(hosts) != len(inboxes) {
		return fmt.Errorf("sqlite: record deliveries of activity %d: %d inboxes, %d hosts", activityID, len(inboxes), len(hosts))
	}
	pairs := make([][2]string, len(inboxes))
	for i := range inboxes {
		pairs[i] = [2]string{inboxes[i], hosts[i]}
	}
	// "WHERE true": without it SQLite would read ON CONFLICT as a join's ON.
	_, err := db.exec(ctx, `INSERT INTO deliveries (activity_id, inbox, host)
		SELECT ?1, json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?2) WHERE true
		ON CONFLICT (activity_id, inbox) DO NOTHING`, activityID, jsonText(pairs))
	if err != nil {
		return fmt.Errorf("sqlite: record %d deliveries of activity %d: %w", len(inboxes), activityID, err)
	}
	return nil
}

// RecordDeliveryOutcome records the outcome of one attempt against its
// row (RecordDeliveryOutcomes of one).
func (db *DB) RecordDeliveryOutcome(ctx context.Context, host string, o starling.DeliveryOutcome) error {
	return db.RecordDeliveryOutcomes(ctx, []starling.HostOutcome{{Host: host, DeliveryOutcome: o}})
}

// outcomeRow is one outcome as RecordDeliveryOutcomes passes it to
// json_each; nil pointers are NULL.
type outcomeRow struct {
	ActivityID int64  `json:"a"`
	Inbox      string `json:"i"`
	Host       string `json:"h"`
	State      string `json:"s"`
	Attempts   int    `json:"n"`
	LastError  string `json:"e"`
	LastStatus int    `json:"c"`
	Next       *int64 `json:"na"`
	Delivered  *int64 `json:"da"`
	LatencyMS  *int64 `json:"l"`
}

// RecordDeliveryOutcomes records attempts' outcomes against their rows in
// one statement (the last outcome of a delivery wins). A delivery with no
// row gets one; one whose activity is gone gets none. Failures also note
// their status code on the host.
func (db *DB) RecordDeliveryOutcomes(ctx context.Context, outcomes []starling.HostOutcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	type key struct {
		id    int64
		inbox string
	}
	last := make(map[key]int, len(outcomes))
	for i, o := range outcomes {
		last[key{o.ActivityID, o.Inbox}] = i
	}
	rows := make([]outcomeRow, 0, len(last))
	hostStatus := map[string]int{}
	now := nowMicro()
	for i, o := range outcomes {
		if last[key{o.ActivityID, o.Inbox}] != i {
			continue
		}
		r := outcomeRow{ActivityID: o.ActivityID, Inbox: o.Inbox, Host: o.Host, State: o.State, Attempts: o.Attempts,
			LastError: o.LastError, LastStatus: o.LastStatus}
		if o.State == starling.DeliveryPending && !o.NextAttempt.IsZero() {
			next := o.NextAttempt.UnixMicro()
			r.Next = &next
		}
		if o.State == starling.DeliveryDelivered {
			at, ms := now, o.Latency.Milliseconds()
			r.Delivered, r.LatencyMS = &at, &ms
		} else if o.LastStatus != 0 {
			hostStatus[o.Host] = o.LastStatus
		}
		rows = append(rows, r)
	}
	err := db.inTx(ctx, func(t *tx) error {
		if _, err := t.ExecContext(ctx, `INSERT INTO deliveries AS d (activity_id, inbox, host, state, attempts, last_error,
				last_status, next_attempt_at, delivered_at, latency_ms)
			SELECT o.value->>'a', o.value->>'i', o.value->>'h', o.value->>'s', o.value->>'n', o.value->>'e',
				o.value->>'c', o.value->>'na', o.value->>'da', o.value->>'l'
			FROM json_each(?1) AS o
			WHERE EXISTS (SELECT 1 FROM activities WHERE id = o.value->>'a')
			ON CONFLICT (activity_id, inbox) DO UPDATE SET state = excluded.state, attempts = excluded.attempts,
				last_error = excluded.last_error, last_status = excluded.last_status,
				next_attempt_at = excluded.next_attempt_at, delivered_at = excluded.delivered_at,
				latency_ms = excluded.latency_ms`, jsonText(rows)); err != nil {
			return fmt.Errorf("record %d delivery outcomes: %w", len(rows), err)
		}
		if err := recordFailedAttempts(ctx, t, outcomes, now); err != nil {
			return err
		}
		if len(hostStatus) == 0 {
			return nil
		}
		if _, err := t.ExecContext(ctx, `UPDATE delivery_hosts SET last_status = o.value
			FROM json_each(?1) AS o WHERE delivery_hosts.host = o.key AND delivery_hosts.last_status <> o.value`,
			jsonText(hostStatus)); err != nil {
			return fmt.Errorf("record status of %d hosts: %w", len(hostStatus), err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

// DeliveryState returns the recorded state of one delivery; ENOTFOUND
// when none is recorded.
func (db *DB) DeliveryState(ctx context.Context, activityID int64, inbox string) (string, error) {
	var state string
	err := db.read.QueryRowContext(ctx, `SELECT state FROM deliveries WHERE activity_id = ?1 AND inbox = ?2`,
		activityID, inbox).Scan(&state)
	if notFound(err) {
		return "", fmt.Errorf("sqlite: delivery of %d to %s: %w", activityID, inbox, starling.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("sqlite: delivery of %d to %s: %w", activityID, inbox, err)
	}
	return state, nil
}

// HostBacklog returns the operator's host table in one query, as
// store/postgres does: pending deliveries and deliveries of the last day
// grouped by host, joined with the host's health, controls and signature
// standard, the hosts with the most pending first. SQLite has no
// percentile_cont: the median latency is the middle row (or the mean of
// the two middle rows) of each host's delivered rows by latency, which is
// what percentile_cont(0.5) computes.
func (db *DB) HostBacklog(ctx context.Context, f starling.HostBacklogFilter) ([]starling.HostBacklog, error) {
	if f.Limit <= 0 || f.Limit > 10_000 {
		f.Limit = 100
	}
	// Two statements, not one with "?1 = '' OR host = ?1", so that one
	// host is read through the indexes on host.
	cond := "?1 = ''"
	if f.Host != "" {
		cond = "host = ?1"
	}
	now := time.Now()
	rows, err := db.read.QueryContext(ctx, `
		WITH p AS (
			SELECT host, count(*) AS pending, min(created_at) AS oldest, max(attempts) AS attempts,
				min(next_attempt_at) AS next_at
			FROM deliveries WHERE state = 'pending' AND `+cond+` GROUP BY host
		), d AS (
			SELECT host, count(*) FILTER (WHERE delivered_at > ?5) AS hour, count(*) AS day
			FROM deliveries WHERE state = 'delivered' AND delivered_at > ?6 AND `+cond+` GROUP BY host
		), ranked AS (
			SELECT host, latency_ms,
				row_number() OVER (PARTITION BY host ORDER BY latency_ms) AS rn,
				count(*) OVER (PARTITION BY host) AS cnt
			FROM deliveries WHERE state = 'delivered' AND delivered_at > ?6 AND latency_ms IS NOT NULL AND `+cond+`
		), m AS (
			SELECT host, avg(latency_ms) AS median FROM ranked
			WHERE rn IN ((cnt + 1) / 2, (cnt + 2) / 2) GROUP BY host
		), hosts AS (
			SELECT host FROM p UNION SELECT host FROM d
			UNION SELECT host FROM delivery_hosts WHERE (failure_days > 0 OR unavailable) AND `+cond+`
			UNION SELECT host FROM host_controls WHERE (paused OR suspended) AND `+cond+`
		)
		SELECT hosts.host, coalesce(p.pending, 0), p.oldest, coalesce(p.attempts, 0),
			p.next_at, coalesce(h.last_error, ''), coalesce(h.last_status, 0),
			coalesce(h.unavailable, 0), h.first_failed_at,
			coalesce(d.hour, 0), coalesce(d.day, 0), coalesce(m.median, 0.0),
			coalesce(s.standard, ''), coalesce(s.refused, ''), s.refused_at,
			coalesce(c.paused, 0), coalesce(c.suspended, 0)
		FROM hosts
		LEFT JOIN p ON p.host = hosts.host
		LEFT JOIN d ON d.host = hosts.host
		LEFT JOIN m ON m.host = hosts.host
		LEFT JOIN delivery_hosts h ON h.host = hosts.host
		LEFT JOIN host_controls c ON c.host = hosts.host
		LEFT JOIN host_signatures s ON s.host = hosts.host
		WHERE CASE ?2
			WHEN 'failing' THEN coalesce(h.failure_days, 0) > 0 OR coalesce(h.unavailable, 0)
			WHEN 'unavailable' THEN coalesce(h.unavailable, 0)
			WHEN 'paused' THEN coalesce(c.paused, 0)
			WHEN 'suspended' THEN coalesce(c.suspended, 0)
			ELSE 1 END
		ORDER BY coalesce(p.pending, 0) DESC, hosts.host
		LIMIT ?3 OFFSET ?4`, f.Host, f.Only, f.Limit, f.Offset,
		now.Add(-time.Hour).UnixMicro(), now.Add(-24*time.Hour).UnixMicro())
	out, err := collect(rows, err, func(r scanner) (starling.HostBacklog, error) {
		var h starling.HostBacklog
		err := r.Scan(&h.Host, &h.Pending, ts(&h.OldestPending), &h.Attempts, ts(&h.NextAttempt), &h.LastError,
			&h.LastStatus, &h.Unavailable, ts(&h.FailingSince), &h.Delivered1h, &h.Delivered24h, &h.MedianLatencyMS,
			&h.Signature, &h.SignatureRefused, ts(&h.SignatureRefusedAt), &h.Paused, &h.Suspended)
		if !h.OldestPending.IsZero() {
			h.OldestAge = now.Sub(h.OldestPending)
		}
		return h, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: host backlog: %w", err)
	}
	return out, nil
}

const traceColumns = `d.activity_id, a.type, d.inbox, d.host, d.state, d.attempts,
	d.last_error, d.last_status, d.next_attempt_at, d.delivered_at, d.created_at`

func scanTrace(r scanner) (starling.DeliveryTrace, error) {
	var t starling.DeliveryTrace
	err := r.Scan(&t.ActivityID, &t.ActivityType, &t.Inbox, &t.Host, &t.State, &t.Attempts, &t.LastError,
		&t.LastStatus, ts(&t.NextAttempt), ts(&t.DeliveredAt), ts(&t.QueuedAt))
	return t, err
}

// DeliveryTrace returns every destination of the activities about status
// id (its Create, and any Update or Delete), by inbox; ENOTFOUND when
// there is no such status.
func (db *DB) DeliveryTrace(ctx context.Context, statusID int64) ([]starling.DeliveryTrace, error) {
	var uri string
	err := db.read.QueryRowContext(ctx, `SELECT uri FROM statuses WHERE id = ?1`, statusID).Scan(&uri)
	if notFound(err) {
		return nil, fmt.Errorf("sqlite: trace of status %d: %w", statusID, starling.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: trace of status %d: %w", statusID, err)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+traceColumns+`
		FROM activities a JOIN deliveries d ON d.activity_id = a.id
		WHERE a.object_uri = ?1 ORDER BY a.id, d.inbox`, uri)
	out, err := collect(rows, err, scanTrace)
	if err != nil {
		return nil, fmt.Errorf("sqlite: trace of status %d: %w", statusID, err)
	}
	return out, nil
}

// HostQueue returns host's pending deliveries, oldest first (the
// deliveries_pending index), with their activity's type.
func (db *DB) HostQueue(ctx context.Context, host string, limit int) ([]starling.DeliveryTrace, error) {
	if limit <= 0 || limit > 10_000 {
		limit = 100
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+traceColumns+`
		FROM deliveries d JOIN activities a ON a.id = d.activity_id
		WHERE d.host = ?1 AND d.state = 'pending' ORDER BY d.created_at LIMIT ?2`, host, limit)
	out, err := collect(rows, err, scanTrace)
	if err != nil {
		return nil, fmt.Errorf("sqlite: queue of %s: %w", host, err)
	}
	return out, nil
}

// HostControls returns the hosts an admin paused or suspended, or told
// to retry or purged in the last hour: what every deliverer must know.
func (db *DB) HostControls(ctx context.Context) ([]starling.HostControl, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT host, paused, suspended, retry_at, purged_at
		FROM host_controls WHERE paused OR suspended OR retry_at > ?1 OR purged_at > ?1`,
		time.Now().Add(-time.Hour).UnixMicro())
	out, err := collect(rows, err, func(r scanner) (starling.HostControl, error) {
		var c starling.HostControl
		err := r.Scan(&c.Host, &c.Paused, &c.Suspended, ts(&c.RetryAt), ts(&c.PurgedAt))
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: host controls: %w", err)
	}
	return out, nil
}

// audit records an admin action in t.
func audit(ctx context.Context, t *tx, actor, action, target string, affected int64, detail string) error {
	_, err := t.ExecContext(ctx, `INSERT INTO admin_actions (actor, action, target, affected, detail)
		VALUES (?1, ?2, ?3, ?4, ?5)`, actor, action, target, affected, detail)
	if err != nil {
		return fmt.Errorf("audit %s %s: %w", action, target, err)
	}
	return nil
}

// setControl upserts one column of host's controls (column is one of
// this file's constants, never input).
func setControl(ctx context.Context, t *tx, host, column string, value any, actor string) error {
	_, err := t.ExecContext(ctx, `INSERT INTO host_controls (host, `+column+`, updated_by) VALUES (?1, ?2, ?3)
		ON CONFLICT (host) DO UPDATE SET `+column+` = excluded.`+column+`, updated_at = ?4, updated_by = ?3`,
		host, value, actor, nowMicro())
	return err
}

// PauseHost pauses or resumes deliveries to host, audited as actor.
// Resuming brings the deliveries parked on subject (the host's delivery
// subject) due now; it returns how many.
func (db *DB) PauseHost(ctx context.Context, actor, host, subject string, paused bool) (int64, error) {
	action := map[bool]string{true: "host.pause", false: "host.resume"}[paused]
	var n int64
	err := db.inTx(ctx, func(t *tx) error {
		if err := setControl(ctx, t, host, "paused", paused, actor); err != nil {
			return err
		}
		if !paused {
			now := time.Now()
			var err error
			n, err = affected(t.ExecContext(ctx, `UPDATE events SET due_at = ?2 WHERE subject = ?1 AND subject LIKE '%.delivery.%'
				AND due_at > ?3`, subject, now.UnixMicro(), now.Add(starling.ParkedAfter/2).UnixMicro()))
			if err != nil {
				return err
			}
			// Events became due: the commit wakes the relay, as the
			// trigger's NOTIFY does in PostgreSQL.
			t.appended = t.appended || n > 0
		}
		return audit(ctx, t, actor, action, host, n, "")
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: %s %s: %w", action, host, err)
	}
	return n, nil
}

// SuspendHost suspends (or lifts the suspension of) a domain: no
// deliveries to it, nothing accepted from it.
func (db *DB) SuspendHost(ctx context.Context, actor, host string, suspended bool) error {
	action := map[bool]string{true: "host.suspend", false: "host.unsuspend"}[suspended]
	err := db.inTx(ctx, func(t *tx) error {
		if err := setControl(ctx, t, host, "suspended", suspended, actor); err != nil {
			return err
		}
		return audit(ctx, t, actor, action, host, 0, "")
	})
	if err != nil {
		return fmt.Errorf("sqlite: %s %s: %w", action, host, err)
	}
	return nil
}

// RetryHost makes the next attempt to host immediate: its scheduled
// retries (not parked ones) become due now, and retry_at tells every
// deliverer to forget the host's breaker. It returns how many retries
// were brought forward.
func (db *DB) RetryHost(ctx context.Context, actor, host, subject string) (int64, error) {
	var n int64
	err := db.inTx(ctx, func(t *tx) error {
		now := time.Now().UnixMicro()
		if err := setControl(ctx, t, host, "retry_at", now, actor); err != nil {
			return err
		}
		var err error
		n, err = affected(t.ExecContext(ctx, `UPDATE events SET due_at = ?2 WHERE subject = ?1 AND subject LIKE '%.delivery.%'
			AND due_at > ?2 AND due_at <= ?3`, subject, now, time.Now().Add(starling.ParkedAfter/2).UnixMicro()))
		if err != nil {
			return err
		}
		t.appended = t.appended || n > 0
		if _, err := t.ExecContext(ctx, `UPDATE deliveries SET next_attempt_at = ?2 WHERE host = ?1 AND state = 'pending'
			AND next_attempt_at > ?2`, host, now); err != nil {
			return err
		}
		return audit(ctx, t, actor, "host.retry", host, n, "")
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: retry %s: %w", host, err)
	}
	return n, nil
}

// ClearHostFailures forgets a host's failures: it is no longer failing
// or unavailable, and new fan-outs include it again.
func (db *DB) ClearHostFailures(ctx context.Context, actor, host string) error {
	err := db.inTx(ctx, func(t *tx) error {
		n, err := affected(t.ExecContext(ctx, `UPDATE delivery_hosts SET failure_days = 0, last_failure_on = NULL,
			first_failed_at = NULL, unavailable = 0, last_error = '', last_status = 0 WHERE host = ?1`, host))
		if err != nil {
			return err
		}
		return audit(ctx, t, actor, "host.clear", host, n, "")
	})
	if err != nil {
		return fmt.Errorf("sqlite: clear failures of %s: %w", host, err)
	}
	return nil
}

// PurgeHost turns host's whole queue into dead letters, in one
// transaction: its pending deliveries become dead letters (replayable),
// its retries and parked deliveries waiting as events on subject are
// deleted, and purged_at tells deliverers to drop what is still in the
// stream for it. It returns how many deliveries were purged. SQLite has
// no UPDATE in a WITH: the dead letters are inserted from the pending
// rows first, then the rows are marked dead, in the same transaction.
func (db *DB) PurgeHost(ctx context.Context, actor, host, subject string) (int64, error) {
	var n int64
	err := db.inTx(ctx, func(t *tx) error {
		now := nowMicro()
		if err := setControl(ctx, t, host, "purged_at", now, actor); err != nil {
			return err
		}
		var err error
		n, err = affected(t.ExecContext(ctx, `INSERT INTO dead_letters (activity_id, actor_id, inbox, host, attempts,
				first_error, last_error, first_failed_at, last_failed_at)
			SELECT d.activity_id, a.actor_id, d.inbox, d.host, d.attempts,
				'purged by ' || ?2, CASE WHEN d.last_error = '' THEN 'purged by ' || ?2 ELSE d.last_error END,
				d.created_at, ?3
			FROM deliveries d JOIN activities a ON a.id = d.activity_id
			WHERE d.host = ?1 AND d.state = 'pending'`, host, actor, now))
		if err != nil {
			return err
		}
		if _, err := t.ExecContext(ctx, `UPDATE deliveries SET state = 'dead', next_attempt_at = NULL
			WHERE host = ?1 AND state = 'pending'`, host); err != nil {
			return err
		}
		if _, err := t.ExecContext(ctx, `DELETE FROM events WHERE subject = ?1 AND subject LIKE '%.delivery.%'`, subject); err != nil {
			return err
		}
		return audit(ctx, t, actor, "host.purge", host, n, "")
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge %s: %w", host, err)
	}
	return n, nil
}

// RecordAdminAction audits an action done elsewhere (a replay, say).
func (db *DB) RecordAdminAction(ctx context.Context, a starling.AdminAction) error {
	err := db.inTx(ctx, func(t *tx) error {
		return audit(ctx, t, a.Actor, a.Action, a.Target, a.Affected, a.Detail)
	})
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

// AdminActions lists audited actions, newest first.
func (db *DB) AdminActions(ctx context.Context, limit int) ([]starling.AdminAction, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.read.QueryContext(ctx, `SELECT id, at, actor, action, target, affected, detail
		FROM admin_actions ORDER BY id DESC LIMIT ?1`, limit)
	out, err := collect(rows, err, func(r scanner) (starling.AdminAction, error) {
		var a starling.AdminAction
		err := r.Scan(&a.ID, ts(&a.At), &a.Actor, &a.Action, &a.Target, &a.Affected, &a.Detail)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: admin actions: %w", err)
	}
	return out, nil
}

// KnownHost reports whether host is one this server has dealt with: a
// delivery, a failure, a decision, a signature standard or an account.
func (db *DB) KnownHost(ctx context.Context, host string) (bool, error) {
	var known bool
	err := db.read.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM deliveries WHERE host = ?1 AND state = 'pending')
		OR EXISTS (SELECT 1 FROM delivery_hosts WHERE host = ?1)
		OR EXISTS (SELECT 1 FROM host_controls WHERE host = ?1)
		OR EXISTS (SELECT 1 FROM host_signatures WHERE host = ?1)
		OR EXISTS (SELECT 1 FROM dead_letters WHERE host = ?1)
		OR EXISTS (SELECT 1 FROM accounts WHERE lower(domain) = ?1)`, host).Scan(&known)
	if err != nil {
		return false, fmt.Errorf("sqlite: known host %s: %w", host, err)
	}
	return known, nil
}

// SetAdmin gives or takes the admin role of a local account;
// ENOTFOUND when it has no user row.
func (db *DB) SetAdmin(ctx context.Context, accountID int64, admin bool) error {
	n, err := db.exec(ctx, `UPDATE users SET admin = ?2 WHERE account_id = ?1`, accountID, admin)
	if err != nil {
		return fmt.Errorf("sqlite: set admin role of %d: %w", accountID, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlite: set admin role of %d: %w", accountID, starling.ErrNotFound)
	}
	return nil
}

// IsAdmin reports whether a local account has the admin role.
func (db *DB) IsAdmin(ctx context.Context, accountID int64) (bool, error) {
	var admin bool
	err := db.read.QueryRowContext(ctx, `SELECT admin FROM users WHERE account_id = ?1`, accountID).Scan(&admin)
	if notFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlite: admin role of %d: %w", accountID, err)
	}
	return admin, nil
}

// TrimDeliveries deletes up to limit delivered and up to limit dead
// delivery rows older than before (the trace of older posts ends there),
// and returns how many it deleted. Pending rows are never trimmed.
func (db *DB) TrimDeliveries(ctx context.Context, before time.Time, limit int) (int64, error) {
	n, err := db.exec(ctx, `DELETE FROM deliveries WHERE (activity_id, inbox) IN (
			SELECT activity_id, inbox FROM deliveries WHERE state = 'delivered' AND delivered_at < ?1 LIMIT ?2)
		OR (activity_id, inbox) IN (
			SELECT activity_id, inbox FROM deliveries WHERE state = 'dead' AND created_at < ?1 LIMIT ?2)`,
		before.UnixMicro(), limit)
	if err != nil {
		return 0, fmt.Errorf("sqlite: trim deliveries: %w", err)
	}
	if _, err := db.exec(ctx, `DELETE FROM delivery_attempts WHERE rowid IN (
			SELECT rowid FROM delivery_attempts WHERE at < ?1 LIMIT ?2)`, before.UnixMicro(), limit); err != nil {
		return 0, fmt.Errorf("sqlite: trim delivery attempts: %w", err)
	}
	return n, nil
}

// attemptRow is one failed attempt as recordFailedAttempts sends it.
type attemptRow struct {
	Host       string `json:"h"`
	ActivityID int64  `json:"a"`
	Inbox      string `json:"i"`
	Attempt    int    `json:"n"`
	Status     int    `json:"c"`
	Error      string `json:"e"`
}

// recordFailedAttempts keeps every failed attempt among outcomes for the
// host's attempt history (see PostgreSQL's).
func recordFailedAttempts(ctx context.Context, t *tx, outcomes []starling.HostOutcome, now int64) error {
	var rows []attemptRow
	for _, o := range outcomes {
		if o.State == starling.DeliveryDelivered || o.LastError == "" {
			continue
		}
		rows = append(rows, attemptRow{o.Host, o.ActivityID, o.Inbox, o.Attempts, o.LastStatus, o.LastError})
	}
	if len(rows) == 0 {
		return nil
	}
	if _, err := t.ExecContext(ctx, `INSERT INTO delivery_attempts (host, activity_id, inbox, attempt, at, status, error)
		SELECT o.value->>'h', o.value->>'a', o.value->>'i', o.value->>'n', ?2, o.value->>'c', o.value->>'e'
		FROM json_each(?1) AS o`, jsonText(rows), now); err != nil {
		return fmt.Errorf("record %d failed attempts: %w", len(rows), err)
	}
	return nil
}

// HostAttempts returns host's latest failed delivery attempts, newest
// first.
func (db *DB) HostAttempts(ctx context.Context, host string, limit int) ([]starling.DeliveryAttempt, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := db.read.QueryContext(ctx, `SELECT at, activity_id, inbox, attempt, status, error FROM delivery_attempts
		WHERE host = ?1 ORDER BY at DESC, attempt DESC LIMIT ?2`, host, limit)
	out, err := collect(rows, err, func(r scanner) (starling.DeliveryAttempt, error) {
		var a starling.DeliveryAttempt
		var at int64
		err := r.Scan(&at, &a.ActivityID, &a.Inbox, &a.Attempt, &a.Status, &a.Error)
		a.At = time.UnixMicro(at)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: attempts of %s: %w", host, err)
	}
	return out, nil
}
