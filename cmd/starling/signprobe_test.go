package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
)

func TestBenchSign(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"bench", "sign", "--json", "--signatures", "3"}, os.Getenv, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var r signResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if r.PerSignature <= 0 || r.CryptoRSA <= 0 {
		t.Errorf("no timings: %+v", r)
	}
	if r.Backend != "libcrypto" && os.Getenv("CI") != "" {
		t.Errorf("CI signs with %s: %s", r.Backend, r.Why)
	}

	for _, args := range [][]string{{"--signatures", "0"}, {"extra"}} {
		errOut.Reset()
		if code := run(t.Context(), append([]string{"bench", "sign"}, args...), os.Getenv, &out, &errOut); code == 0 {
			t.Errorf("bench sign %v: exit 0", args)
		} else if !strings.Contains(errOut.String(), "starling bench sign: ") {
			t.Errorf("bench sign %v: %q names no problem", args, errOut.String())
		}
	}
}

// The probe runs both code paths in child processes and either keeps
// OpenSSL's choice or masks ADX; which one depends on the CPU, so the test
// checks that it decided, not what.
func TestTuneLibcrypto(t *testing.T) {
	t.Setenv("STARLING_TEST_RUN_MAIN", "1") // the children are this test binary
	t.Setenv("OPENSSL_ia32cap", "")
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tuneLibcrypto(context.Background(), logger)
	got := logs.String()
	switch v := os.Getenv("OPENSSL_ia32cap"); {
	case strings.Contains(got, "probe failed"):
		t.Fatalf("probe failed: %s", got)
	case v == maskADX && strings.Contains(got, "ADX masked"):
	case v == "" && strings.Contains(got, "code path OpenSSL chose"):
	default:
		t.Fatalf("OPENSSL_ia32cap=%q after the probe, which said: %s", v, got)
	}
	t.Log(strings.TrimSpace(got))
}
