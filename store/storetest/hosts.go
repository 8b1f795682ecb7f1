package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/starling-social/starling"
)

// HostSignatures is what federation.Knocker keeps per remote host: the
// signature standard it verifies and the newer one it last refused.
type HostSignatures interface {
	HostSignatures(ctx context.Context) (map[string]starling.HostSignature, error)
	SetHostSignature(ctx context.Context, host string, s starling.HostSignature, overwrite bool) error
}

// testHostSignatures: a guess (no overwrite) never replaces a record; an
// overwrite does, refusal and all, and clears a refusal it does not carry.
func testHostSignatures(t *testing.T, s Store) {
	ctx := context.Background()
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		name      string
		host      string
		sig       starling.HostSignature
		overwrite bool
		want      starling.HostSignature
	}{
		{"a guess for a new host", "a.example", starling.HostSignature{Standard: "rfc9421-ed25519"}, false,
			starling.HostSignature{Standard: "rfc9421-ed25519"}},
		{"another guess changes nothing", "a.example", starling.HostSignature{Standard: "draft-cavage"}, false,
			starling.HostSignature{Standard: "rfc9421-ed25519"}},
		{"a knock refused lowers it, with the refusal", "a.example",
			starling.HostSignature{Standard: "rfc9421", Refused: "rfc9421-ed25519", RefusedAt: at}, true,
			starling.HostSignature{Standard: "rfc9421", Refused: "rfc9421-ed25519", RefusedAt: at}},
		{"refused again later: the time moves", "a.example",
			starling.HostSignature{Standard: "rfc9421", Refused: "rfc9421-ed25519", RefusedAt: at.Add(8 * 24 * time.Hour)}, true,
			starling.HostSignature{Standard: "rfc9421", Refused: "rfc9421-ed25519", RefusedAt: at.Add(8 * 24 * time.Hour)}},
		{"accepted when tried again: the refusal goes", "a.example",
			starling.HostSignature{Standard: "rfc9421-ed25519"}, true,
			starling.HostSignature{Standard: "rfc9421-ed25519"}},
		{"another host is its own", "b.example", starling.HostSignature{Standard: "draft-cavage"}, true,
			starling.HostSignature{Standard: "draft-cavage"}},
	}
	for _, st := range steps {
		if err := s.SetHostSignature(ctx, st.host, st.sig, st.overwrite); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		all, err := s.HostSignatures(ctx)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got := all[st.host]
		if got.Standard != st.want.Standard || got.Refused != st.want.Refused || !got.RefusedAt.Equal(st.want.RefusedAt) {
			t.Errorf("%s: stored %+v, want %+v", st.name, got, st.want)
		}
	}
	all, err := s.HostSignatures(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 {
		t.Errorf("%d hosts on record, want 2: %v", len(all), all)
	}

	// The operator's host table shows a refusal beside the standard.
	alice := MustAccount(t, s, "alice", "")
	_, act := mustLocalPost(t, s, alice, "9")
	if err := s.RecordQueuedDeliveries(ctx, act.ID, []string{"https://a.example/inbox", "https://b.example/inbox"},
		[]string{"a.example", "b.example"}); err != nil {
		t.Fatal(err)
	}
	refused := starling.HostSignature{Standard: "rfc9421", Refused: "rfc9421-ed25519", RefusedAt: at}
	if err := s.SetHostSignature(ctx, "a.example", refused, true); err != nil {
		t.Fatal(err)
	}
	rows, err := s.HostBacklog(ctx, starling.HostBacklogFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]starling.HostBacklog{}
	for _, r := range rows {
		got[r.Host] = r
	}
	if a := got["a.example"]; a.Signature != "rfc9421" || a.SignatureRefused != "rfc9421-ed25519" || !a.SignatureRefusedAt.Equal(at) {
		t.Errorf("a.example's row: signature %q, refused %q at %v; want rfc9421, rfc9421-ed25519 at %v",
			a.Signature, a.SignatureRefused, a.SignatureRefusedAt, at)
	}
	if b := got["b.example"]; b.Signature != "draft-cavage" || b.SignatureRefused != "" || !b.SignatureRefusedAt.IsZero() {
		t.Errorf("b.example's row: signature %q, refused %q at %v; want draft-cavage and no refusal",
			b.Signature, b.SignatureRefused, b.SignatureRefusedAt)
	}
}
