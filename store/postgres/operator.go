package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/starling-social/starling"
)

// RecordQueuedDeliveries records that activityID was queued to inboxes
// (hosts[i] is the host of inboxes[i]): one statement per fan-out, so the
// hot path pays one round trip however large the audience. A fan-out
// replayed later leaves existing rows as they are.
func (db *DB) RecordQueuedDeliveries(ctx context.Context, activityID int64, inboxes, hosts []string) error {
	if len(inboxes) == 0 {
		return nil
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO deliveries (activity_id, inbox, host)
		SELECT $1, i, h FROM unnest($2::text[], $3::text[]) AS t(i, h)
		ON CONFLICT (activity_id, inbox) DO NOTHING`, activityID, inboxes, hosts)
	if err != nil {
		return fmt.Errorf("record %d deliveries of activity %d: %w", len(inboxes), activityID, err)
	}
	return nil
}

// RecordDeliveryOutcome records the outcome of one attempt against its
// row (RecordDeliveryOutcomes of one).
func (db *DB) RecordDeliveryOutcome(ctx context.Context, host string, o starling.DeliveryOutcome) error {
	return db.RecordDeliveryOutcomes(ctx, []starling.HostOutcome{{Host: host, DeliveryOutcome: o}})
}

// RecordDeliveryOutcomes records attempts' outcomes against their rows in
// one batch (the last outcome of a delivery wins). A delivery with no
// row (queued before migration 00130) gets one; one whose activity is
// gone gets none. Failures also note their status code on the host.
func (db *DB) RecordDeliveryOutcomes(ctx context.Context, outcomes []starling.HostOutcome) error {
	type key struct {
		id    int64
		inbox string
	}
	last := make(map[key]int, len(outcomes))
	for i, o := range outcomes {
		last[key{o.ActivityID, o.Inbox}] = i
	}
	n := len(last)
	ids, inboxes, hosts, states, errs := make([]int64, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	attempts, statuses := make([]int32, 0, n), make([]int32, 0, n)
	nexts, delivered, latencies := make([]*time.Time, 0, n), make([]*time.Time, 0, n), make([]*int32, 0, n)
	hostStatus := map[string]int32{}
	now := time.Now()
	for i, o := range outcomes {
		if last[key{o.ActivityID, o.Inbox}] != i {
			continue
		}
		ids, inboxes, hosts, states = append(ids, o.ActivityID), append(inboxes, o.Inbox), append(hosts, o.Host), append(states, o.State)
		attempts, errs, statuses = append(attempts, int32(o.Attempts)), append(errs, o.LastError), append(statuses, int32(o.LastStatus))
		var next, at *time.Time
		var lat *int32
		if o.State == starling.DeliveryPending && !o.NextAttempt.IsZero() {
			t := o.NextAttempt
			next = &t
		}
		if o.State == starling.DeliveryDelivered {
			ms := int32(o.Latency.Milliseconds())
			at, lat = &now, &ms
		} else if o.LastStatus != 0 {
			hostStatus[o.Host] = int32(o.LastStatus)
		}
		nexts, delivered, latencies = append(nexts, next), append(delivered, at), append(latencies, lat)
	}
	// One round trip, and one implicit transaction (a batch ends with a
	// single Sync): a reader never sees a delivery's failure without its
	// host's status or its attempt.
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO deliveries AS d (activity_id, inbox, host, state, attempts, last_error,
			last_status, next_attempt_at, delivered_at, latency_ms)
		SELECT o.a, o.i, o.h, o.s, o.n, o.e, o.c, o.na, o.da, o.l
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::int[],
			$8::timestamptz[], $9::timestamptz[], $10::int[]) AS o(a, i, h, s, n, e, c, na, da, l)
		WHERE EXISTS (SELECT 1 FROM activities WHERE id = o.a)
		ON CONFLICT (activity_id, inbox) DO UPDATE SET state = EXCLUDED.state, attempts = EXCLUDED.attempts,
			last_error = EXCLUDED.last_error, last_status = EXCLUDED.last_status,
			next_attempt_at = EXCLUDED.next_attempt_at, delivered_at = EXCLUDED.delivered_at,
			latency_ms = EXCLUDED.latency_ms`,
		ids, inboxes, hosts, states, attempts, errs, statuses, nexts, delivered, latencies)
	queueFailedAttempts(b, outcomes, now)
	if len(hostStatus) > 0 {
		hs, cs := make([]string, 0, len(hostStatus)), make([]int32, 0, len(hostStatus))
		for h, c := range hostStatus {
			hs, cs = append(hs, h), append(cs, c)
		}
		b.Queue(`UPDATE delivery_hosts h SET last_status = o.c
			FROM unnest($1::text[], $2::int[]) AS o(h, c) WHERE h.host = o.h AND h.last_status <> o.c`, hs, cs)
	}
	if err := db.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("record %d delivery outcomes: %w", n, err)
	}
	return nil
}

// queueFailedAttempts adds every failed attempt among outcomes (all of
// them, not only each delivery's last) to b, for the host's attempt
// history.
func queueFailedAttempts(b *pgx.Batch, outcomes []starling.HostOutcome, now time.Time) {
	var hosts, inboxes, errs []string
	var ids []int64
	var attempts, statuses []int32
	for _, o := range outcomes {
		if o.State == starling.DeliveryDelivered || o.LastError == "" {
			continue
		}
		hosts, ids, inboxes = append(hosts, o.Host), append(ids, o.ActivityID), append(inboxes, o.Inbox)
		attempts, statuses, errs = append(attempts, int32(o.Attempts)), append(statuses, int32(o.LastStatus)), append(errs, o.LastError)
	}
	if len(hosts) == 0 {
		return
	}
	b.Queue(`INSERT INTO delivery_attempts (host, activity_id, inbox, attempt, at, status, error)
		SELECT o.h, o.a, o.i, o.n, $7, o.c, o.e
		FROM unnest($1::text[], $2::bigint[], $3::text[], $4::int[], $5::int[], $6::text[]) AS o(h, a, i, n, c, e)`,
		hosts, ids, inboxes, attempts, statuses, errs, now)
}

// HostAttempts returns host's latest failed delivery attempts, newest
// first.
func (db *DB) HostAttempts(ctx context.Context, host string, limit int) ([]starling.DeliveryAttempt, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := db.pool.Query(ctx, `SELECT at, activity_id, inbox, attempt, status, error FROM delivery_attempts
		WHERE host = $1 ORDER BY at DESC, attempt DESC LIMIT $2`, host, limit)
	if err != nil {
		return nil, fmt.Errorf("attempts of %s: %w", host, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (starling.DeliveryAttempt, error) {
		var a starling.DeliveryAttempt
		return a, r.Scan(&a.At, &a.ActivityID, &a.Inbox, &a.Attempt, &a.Status, &a.Error)
	})
	if err != nil {
		return nil, fmt.Errorf("attempts of %s: %w", host, err)
	}
	return out, nil
}

// DeliveryState returns the recorded state of one delivery; ENOTFOUND
// when none is recorded.
func (db *DB) DeliveryState(ctx context.Context, activityID int64, inbox string) (string, error) {
	var state string
	err := db.pool.QueryRow(ctx, `SELECT state FROM deliveries WHERE activity_id = $1 AND inbox = $2`,
		activityID, inbox).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("delivery of %d to %s: %w", activityID, inbox, starling.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("delivery of %d to %s: %w", activityID, inbox, err)
	}
	return state, nil
}

// HostBacklog returns the operator's host table in one query: pending
// deliveries (the deliveries_pending partial index) and deliveries of the
// last day (deliveries_delivered) grouped by host, joined with the host's
// health, controls and signature standard. Hosts with the most pending
// come first. In-flight counts and breaker states live in the deliverers'
// memory; the caller adds them.
func (db *DB) HostBacklog(ctx context.Context, f starling.HostBacklogFilter) ([]starling.HostBacklog, error) {
	if f.Limit <= 0 || f.Limit > 10_000 {
		f.Limit = 100
	}
	var out []starling.HostBacklog
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		// The planner overestimates the joins of grouped rows by orders of
		// magnitude and JIT-compiles the query: over a second of
		// compilation for a query that runs in a few hundred milliseconds.
		if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
			return err
		}
		var err error
		out, err = hostBacklog(ctx, tx, f)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("host backlog: %w", err)
	}
	return out, nil
}

func hostBacklog(ctx context.Context, q querier, f starling.HostBacklogFilter) ([]starling.HostBacklog, error) {
	// Two statements, not one with "$1 = '' OR host = $1": a generic plan
	// of that scans every pending row even for one host.
	cond := "$1::text = ''"
	if f.Host != "" {
		cond = "host = $1"
	}
	rows, err := q.Query(ctx, `
		WITH p AS (
			SELECT host, count(*) AS pending, min(created_at) AS oldest, max(attempts) AS attempts,
				min(next_attempt_at) AS next_at
			FROM deliveries WHERE state = 'pending' AND `+cond+` GROUP BY host
		), d AS (
			SELECT host, count(*) FILTER (WHERE delivered_at > now() - interval '1 hour') AS hour,
				count(*) AS day,
				percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS median
			FROM deliveries WHERE state = 'delivered' AND delivered_at > now() - interval '1 day'
				AND `+cond+` GROUP BY host
		), hosts AS (
			SELECT host FROM p UNION SELECT host FROM d
			UNION SELECT host FROM delivery_hosts WHERE (failure_days > 0 OR unavailable) AND `+cond+`
			UNION SELECT host FROM host_controls WHERE (paused OR suspended) AND `+cond+`
		)
		SELECT hosts.host, coalesce(p.pending, 0), coalesce(p.oldest, 'epoch'), coalesce(p.attempts, 0),
			coalesce(p.next_at, 'epoch'), coalesce(h.last_error, ''), coalesce(h.last_status, 0),
			coalesce(h.unavailable, false), coalesce(h.first_failed_at, 'epoch'),
			coalesce(d.hour, 0), coalesce(d.day, 0), coalesce(d.median, 0),
			coalesce(s.standard, ''), coalesce(s.refused, ''), coalesce(s.refused_at, 'epoch'),
			coalesce(c.paused, false), coalesce(c.suspended, false)
		FROM hosts
		LEFT JOIN p ON p.host = hosts.host
		LEFT JOIN d ON d.host = hosts.host
		LEFT JOIN delivery_hosts h ON h.host = hosts.host
		LEFT JOIN host_controls c ON c.host = hosts.host
		LEFT JOIN host_signatures s ON s.host = hosts.host
		WHERE CASE $2
			WHEN 'failing' THEN coalesce(h.failure_days, 0) > 0 OR coalesce(h.unavailable, false)
			WHEN 'unavailable' THEN coalesce(h.unavailable, false)
			WHEN 'paused' THEN coalesce(c.paused, false)
			WHEN 'suspended' THEN coalesce(c.suspended, false)
			ELSE true END
		ORDER BY coalesce(p.pending, 0) DESC, hosts.host
		LIMIT $3 OFFSET $4`, f.Host, f.Only, f.Limit, f.Offset)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (starling.HostBacklog, error) {
		var h starling.HostBacklog
		err := row.Scan(&h.Host, &h.Pending, &h.OldestPending, &h.Attempts, &h.NextAttempt, &h.LastError,
			&h.LastStatus, &h.Unavailable, &h.FailingSince, &h.Delivered1h, &h.Delivered24h, &h.MedianLatencyMS,
			&h.Signature, &h.SignatureRefused, &h.SignatureRefusedAt, &h.Paused, &h.Suspended)
		for _, t := range []*time.Time{&h.OldestPending, &h.NextAttempt, &h.FailingSince, &h.SignatureRefusedAt} {
			if t.Unix() == 0 {
				*t = time.Time{}
			}
		}
		if !h.OldestPending.IsZero() {
			h.OldestAge = now.Sub(h.OldestPending)
		}
		return h, err
	})
}

// DeliveryTrace returns every destination of the activities about status
// id (its Create, and any Update or Delete), by inbox; ENOTFOUND when
// there is no such status.
func (db *DB) DeliveryTrace(ctx context.Context, statusID int64) ([]starling.DeliveryTrace, error) {
	var uri string
	err := db.pool.QueryRow(ctx, `SELECT uri FROM statuses WHERE id = $1`, statusID).Scan(&uri)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("trace of status %d: %w", statusID, starling.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("trace of status %d: %w", statusID, err)
	}
	rows, err := db.pool.Query(ctx, `SELECT d.activity_id, a.type, d.inbox, d.host, d.state, d.attempts,
			d.last_error, d.last_status, coalesce(d.next_attempt_at, 'epoch'), coalesce(d.delivered_at, 'epoch'), d.created_at
		FROM activities a JOIN deliveries d ON d.activity_id = a.id
		WHERE a.object_uri = $1 ORDER BY a.id, d.inbox`, uri)
	if err != nil {
		return nil, fmt.Errorf("trace of status %d: %w", statusID, err)
	}
	out, err := pgx.CollectRows(rows, scanTrace)
	if err != nil {
		return nil, fmt.Errorf("trace of status %d: %w", statusID, err)
	}
	return out, nil
}

// HostControls returns the hosts an admin paused or suspended, or told
// to retry or purged in the last hour: what every deliverer must know.
func (db *DB) HostControls(ctx context.Context) ([]starling.HostControl, error) {
	rows, err := db.pool.Query(ctx, `SELECT host, paused, suspended, coalesce(retry_at, 'epoch'), coalesce(purged_at, 'epoch')
		FROM host_controls WHERE paused OR suspended OR retry_at > now() - interval '1 hour'
			OR purged_at > now() - interval '1 hour'`)
	if err != nil {
		return nil, fmt.Errorf("host controls: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (starling.HostControl, error) {
		var c starling.HostControl
		err := row.Scan(&c.Host, &c.Paused, &c.Suspended, &c.RetryAt, &c.PurgedAt)
		if c.RetryAt.Unix() == 0 {
			c.RetryAt = time.Time{}
		}
		if c.PurgedAt.Unix() == 0 {
			c.PurgedAt = time.Time{}
		}
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("host controls: %w", err)
	}
	return out, nil
}

// audit records an admin action in tx.
func audit(ctx context.Context, tx pgx.Tx, actor, action, target string, affected int64, detail string) error {
	_, err := tx.Exec(ctx, `INSERT INTO admin_actions (actor, action, target, affected, detail) VALUES ($1, $2, $3, $4, $5)`,
		actor, action, target, affected, detail)
	if err != nil {
		return fmt.Errorf("audit %s %s: %w", action, target, err)
	}
	return nil
}

// wakeRelay tells every relay that events became due (the insert
// trigger does so for new rows; an update moving due_at needs this).
func wakeRelay(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT pg_notify('starling_events', '')`)
	return err
}

// PauseHost pauses or resumes deliveries to host, audited as actor.
// Resuming brings the deliveries parked on subject (the host's delivery
// subject) due now; it returns how many.
func (db *DB) PauseHost(ctx context.Context, actor, host, subject string, paused bool) (int64, error) {
	action := map[bool]string{true: "host.pause", false: "host.resume"}[paused]
	var n int64
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO host_controls (host, paused, updated_by) VALUES ($1, $2, $3)
			ON CONFLICT (host) DO UPDATE SET paused = $2, updated_at = now(), updated_by = $3`, host, paused, actor); err != nil {
			return err
		}
		if !paused {
			tag, err := tx.Exec(ctx, `UPDATE events SET due_at = now() WHERE subject = $1 AND subject LIKE '%.delivery.%'
				AND due_at > now() + make_interval(secs => $2)`, subject, (starling.ParkedAfter / 2).Seconds())
			if err != nil {
				return err
			}
			n = tag.RowsAffected()
			if err := wakeRelay(ctx, tx); err != nil {
				return err
			}
		}
		return audit(ctx, tx, actor, action, host, n, "")
	})
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", action, host, err)
	}
	return n, nil
}

// SuspendHost suspends (or lifts the suspension of) a domain: no
// deliveries to it, nothing accepted from it.
func (db *DB) SuspendHost(ctx context.Context, actor, host string, suspended bool) error {
	action := map[bool]string{true: "host.suspend", false: "host.unsuspend"}[suspended]
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO host_controls (host, suspended, updated_by) VALUES ($1, $2, $3)
			ON CONFLICT (host) DO UPDATE SET suspended = $2, updated_at = now(), updated_by = $3`, host, suspended, actor); err != nil {
			return err
		}
		return audit(ctx, tx, actor, action, host, 0, "")
	})
	if err != nil {
		return fmt.Errorf("%s %s: %w", action, host, err)
	}
	return nil
}

// RetryHost makes the next attempt to host immediate: its scheduled
// retries (not parked ones) become due now, and retry_at tells every
// deliverer to forget the host's breaker. It returns how many retries
// were brought forward.
func (db *DB) RetryHost(ctx context.Context, actor, host, subject string) (int64, error) {
	var n int64
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO host_controls (host, retry_at, updated_by) VALUES ($1, now(), $2)
			ON CONFLICT (host) DO UPDATE SET retry_at = now(), updated_at = now(), updated_by = $2`, host, actor); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE events SET due_at = now() WHERE subject = $1 AND subject LIKE '%.delivery.%'
			AND due_at > now() AND due_at <= now() + make_interval(secs => $2)`, subject, (starling.ParkedAfter / 2).Seconds())
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		if _, err := tx.Exec(ctx, `UPDATE deliveries SET next_attempt_at = now() WHERE host = $1 AND state = 'pending'
			AND next_attempt_at > now()`, host); err != nil {
			return err
		}
		if err := wakeRelay(ctx, tx); err != nil {
			return err
		}
		return audit(ctx, tx, actor, "host.retry", host, n, "")
	})
	if err != nil {
		return 0, fmt.Errorf("retry %s: %w", host, err)
	}
	return n, nil
}

// ClearHostFailures forgets a host's failures: it is no longer failing
// or unavailable, and new fan-outs include it again.
func (db *DB) ClearHostFailures(ctx context.Context, actor, host string) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE delivery_hosts SET failure_days = 0, last_failure_on = NULL,
			first_failed_at = NULL, unavailable = false, last_error = '', last_status = 0 WHERE host = $1`, host)
		if err != nil {
			return err
		}
		return audit(ctx, tx, actor, "host.clear", host, tag.RowsAffected(), "")
	})
	if err != nil {
		return fmt.Errorf("clear failures of %s: %w", host, err)
	}
	return nil
}

// PurgeHost turns host's whole queue into dead letters, in one
// transaction: its pending deliveries become dead letters (replayable),
// its retries and parked deliveries waiting as events on subject are
// deleted, and purged_at tells deliverers to drop what is still in the
// stream for it. It returns how many deliveries were purged.
func (db *DB) PurgeHost(ctx context.Context, actor, host, subject string) (int64, error) {
	var n int64
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO host_controls (host, purged_at, updated_by) VALUES ($1, now(), $2)
			ON CONFLICT (host) DO UPDATE SET purged_at = now(), updated_at = now(), updated_by = $2`, host, actor); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `WITH dead AS (
				UPDATE deliveries SET state = 'dead', next_attempt_at = NULL
				WHERE host = $1 AND state = 'pending'
				RETURNING activity_id, inbox, host, attempts, last_error, created_at)
			INSERT INTO dead_letters (activity_id, actor_id, inbox, host, attempts, first_error, last_error,
				first_failed_at, last_failed_at)
			SELECT dead.activity_id, a.actor_id, dead.inbox, dead.host, dead.attempts,
				'purged by ' || $2, CASE WHEN dead.last_error = '' THEN 'purged by ' || $2 ELSE dead.last_error END,
				dead.created_at, now()
			FROM dead JOIN activities a ON a.id = dead.activity_id`, host, actor)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		if _, err := tx.Exec(ctx, `DELETE FROM events WHERE subject = $1 AND subject LIKE '%.delivery.%'`, subject); err != nil {
			return err
		}
		return audit(ctx, tx, actor, "host.purge", host, n, "")
	})
	if err != nil {
		return 0, fmt.Errorf("purge %s: %w", host, err)
	}
	return n, nil
}

// RecordAdminAction audits an action done elsewhere (a replay, say).
func (db *DB) RecordAdminAction(ctx context.Context, a starling.AdminAction) error {
	return db.inTx(ctx, func(tx pgx.Tx) error {
		return audit(ctx, tx, a.Actor, a.Action, a.Target, a.Affected, a.Detail)
	})
}

// AdminActions lists audited actions, newest first.
func (db *DB) AdminActions(ctx context.Context, limit int) ([]starling.AdminAction, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.pool.Query(ctx, `SELECT id, at, actor, action, target, affected, detail
		FROM admin_actions ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("admin actions: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[starling.AdminAction])
	if err != nil {
		return nil, fmt.Errorf("admin actions: %w", err)
	}
	return out, nil
}

// KnownHost reports whether host is one this server has dealt with: a
// delivery, a failure, a decision, a signature standard or an account.
func (db *DB) KnownHost(ctx context.Context, host string) (bool, error) {
	var known bool
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM deliveries WHERE host = $1 AND state = 'pending')
		OR EXISTS (SELECT 1 FROM delivery_hosts WHERE host = $1)
		OR EXISTS (SELECT 1 FROM host_controls WHERE host = $1)
		OR EXISTS (SELECT 1 FROM host_signatures WHERE host = $1)
		OR EXISTS (SELECT 1 FROM dead_letters WHERE host = $1)
		OR EXISTS (SELECT 1 FROM accounts WHERE lower(domain) = $1)`, host).Scan(&known)
	if err != nil {
		return false, fmt.Errorf("known host %s: %w", host, err)
	}
	return known, nil
}

// SetAdmin gives or takes the admin role of a local account;
// ENOTFOUND when it has no user row.
func (db *DB) SetAdmin(ctx context.Context, accountID int64, admin bool) error {
	tag, err := db.pool.Exec(ctx, `UPDATE users SET admin = $2 WHERE account_id = $1`, accountID, admin)
	if err != nil {
		return fmt.Errorf("set admin role of %d: %w", accountID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("set admin role of %d: %w", accountID, starling.ErrNotFound)
	}
	return nil
}

// IsAdmin reports whether a local account has the admin role.
func (db *DB) IsAdmin(ctx context.Context, accountID int64) (bool, error) {
	var admin bool
	err := db.pool.QueryRow(ctx, `SELECT admin FROM users WHERE account_id = $1`, accountID).Scan(&admin)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("admin role of %d: %w", accountID, err)
	}
	return admin, nil
}

// TrimDeliveries deletes up to limit delivered or dead delivery rows
// older than before (the trace of older posts ends there), and returns
// how many it deleted. Pending rows are never trimmed.
func (db *DB) TrimDeliveries(ctx context.Context, before time.Time, limit int) (int64, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM deliveries WHERE ctid = ANY (ARRAY(
			SELECT ctid FROM deliveries WHERE state = 'delivered' AND delivered_at < $1 LIMIT $2))
		OR ctid = ANY (ARRAY(SELECT ctid FROM deliveries WHERE state = 'dead' AND created_at < $1 LIMIT $2))`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("trim deliveries: %w", err)
	}
	if _, err := db.pool.Exec(ctx, `DELETE FROM delivery_attempts WHERE ctid = ANY (ARRAY(
			SELECT ctid FROM delivery_attempts WHERE at < $1 LIMIT $2))`, before, limit); err != nil {
		return 0, fmt.Errorf("trim delivery attempts: %w", err)
	}
	return tag.RowsAffected(), nil
}

// HostQueue returns host's pending deliveries, oldest first (the
// deliveries_pending index), with their activity's type.
func (db *DB) HostQueue(ctx context.Context, host string, limit int) ([]starling.DeliveryTrace, error) {
	if limit <= 0 || limit > 10_000 {
		limit = 100
	}
	rows, err := db.pool.Query(ctx, `SELECT d.activity_id, a.type, d.inbox, d.host, d.state, d.attempts,
			d.last_error, d.last_status, coalesce(d.next_attempt_at, 'epoch'), coalesce(d.delivered_at, 'epoch'), d.created_at
		FROM deliveries d JOIN activities a ON a.id = d.activity_id
		WHERE d.host = $1 AND d.state = 'pending' ORDER BY d.created_at LIMIT $2`, host, limit)
	if err != nil {
		return nil, fmt.Errorf("queue of %s: %w", host, err)
	}
	out, err := pgx.CollectRows(rows, scanTrace)
	if err != nil {
		return nil, fmt.Errorf("queue of %s: %w", host, err)
	}
	return out, nil
}

func scanTrace(row pgx.CollectableRow) (starling.DeliveryTrace, error) {
	var t starling.DeliveryTrace
	err := row.Scan(&t.ActivityID, &t.ActivityType, &t.Inbox, &t.Host, &t.State, &t.Attempts, &t.LastError,
		&t.LastStatus, &t.NextAttempt, &t.DeliveredAt, &t.QueuedAt)
	if t.NextAttempt.Unix() == 0 {
		t.NextAttempt = time.Time{}
	}
	if t.DeliveredAt.Unix() == 0 {
		t.DeliveredAt = time.Time{}
	}
	return t, err
}
