package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/starling-social/starling/activitypub"
)

// libcrypto's RSA code path. On x86-64 CPUs with ADX and BMI2, OpenSSL 3.0
// does its Montgomery multiplications with mulx/adcx/adox and leaves its
// AVX2 code (RSAZ) aside. On the AMD EPYC (Zen 3) Starling is measured on,
// the AVX2 code signs an RSA-2048 digest in 0.61–0.67 ms against 0.69–1.14
// ms (BENCHMARKS.md); on other CPUs it may be the other way round. OpenSSL
// reads the CPU's capabilities once, when the library loads, from
// OPENSSL_ia32cap if set, so the two can only be compared in separate
// processes: serve runs `starling bench sign --json` with and without ADX
// masked, and keeps the faster before it loads libcrypto itself.
// OPENSSL_ia32cap set by the operator is left alone.

// maskADX clears ADX (CPUID leaf 7, EBX bit 19) from what OpenSSL sees.
const maskADX = ":~0x80000"

// tuneLibcrypto chooses libcrypto's RSA code path for this process, as
// above, and says what it chose. It must run before anything loads
// libcrypto.
func tuneLibcrypto(ctx context.Context, logger *slog.Logger) {
	if runtime.GOARCH != "amd64" || os.Getenv("OPENSSL_ia32cap") != "" || os.Getenv("STARLING_LIBCRYPTO") == "off" {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	// All four probes together get ten seconds; they take about half of one.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	probe := func(ia32cap string) (time.Duration, error) {
		cmd := exec.CommandContext(ctx, exe, "bench", "sign", "--json", "--signatures", "25", "--crypto-rsa=false")
		cmd.Env = append(os.Environ(), "OPENSSL_ia32cap="+ia32cap)
		out, err := cmd.Output()
		if err != nil {
			return 0, fmt.Errorf("probe: %w", err)
		}
		var r signResult
		if err := json.Unmarshal(out, &r); err != nil {
			return 0, fmt.Errorf("probe: %w", err)
		}
		if r.Backend != "libcrypto" {
			return 0, fmt.Errorf("probe signed with %s", r.Backend)
		}
		return r.PerSignature, nil
	}
	// Interleaved, twice each: the machine's speed drifts by the second.
	var plain, masked time.Duration
	for range 2 {
		p, err := probe("")
		if err != nil {
			logger.Debug("libcrypto probe failed; OpenSSL chooses its code path", "error", err)
			return
		}
		m, err := probe(maskADX)
		if err != nil {
			logger.Debug("libcrypto probe failed; OpenSSL chooses its code path", "error", err)
			return
		}
		plain, masked = plain+p, masked+m
	}
	// Only a difference beyond the noise: equal runs stay with OpenSSL's choice.
	if masked < plain*97/100 {
		os.Setenv("OPENSSL_ia32cap", maskADX)
		logger.Info("libcrypto: RSA on its AVX2 code path, ADX masked", "sign_ms", ms(masked/2), "adx_path_sign_ms", ms(plain/2))
		return
	}
	logger.Debug("libcrypto: RSA on the code path OpenSSL chose", "sign_ms", ms(plain/2), "avx2_path_sign_ms", ms(masked/2))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()*1000) }

// signResult is what `starling bench sign --json` prints.
type signResult struct {
	Backend      string        `json:"backend"`
	Why          string        `json:"why_not_libcrypto,omitempty"`
	Ia32cap      string        `json:"openssl_ia32cap,omitempty"`
	PerSignature time.Duration `json:"per_signature_ns"`
	CryptoRSA    time.Duration `json:"crypto_rsa_per_signature_ns,omitempty"`
}

// benchSign measures one RSA-2048 signature of a delivery, on one core,
// through the code deliveries use (libcrypto where it loads) and, unless
// told not to, through crypto/rsa alone.
func benchSign(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("starling bench sign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("signatures", 300, "signatures to time")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	withGo := fs.Bool("crypto-rsa", true, "also time crypto/rsa alone")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *n < 1 {
		return fmt.Errorf("--signatures %d: want at least 1", *n)
	}
	r := signResult{Ia32cap: os.Getenv("OPENSSL_ia32cap")}
	var why error
	r.Backend, why = activitypub.SigningBackend()
	if why != nil {
		r.Why = why.Error()
	}
	r.PerSignature, r.CryptoRSA = signingCost(*n, *withGo)
	if *asJSON {
		return json.NewEncoder(stdout).Encode(r)
	}
	fmt.Fprintf(stdout, "RSA-2048 signature of a delivery, one core: %.3f ms with %s", r.PerSignature.Seconds()*1000, r.Backend)
	if r.Ia32cap != "" {
		fmt.Fprintf(stdout, " (OPENSSL_ia32cap=%s)", r.Ia32cap)
	}
	if r.Why != "" {
		fmt.Fprintf(stdout, " (%s)", r.Why)
	}
	fmt.Fprintln(stdout)
	if *withGo {
		fmt.Fprintf(stdout, "crypto/rsa alone: %.3f ms\n", r.CryptoRSA.Seconds()*1000)
	}
	return nil
}

// signingCost times n signatures of a delivery-sized request on one core,
// through the same code path deliveries use, and, if withGo, through
// crypto/rsa alone for comparison.
func signingCost(n int, withGo bool) (delivery, cryptoRSA time.Duration) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	wrapped, _ := activitypub.NewRSAKey(key)
	body := []byte(strings.Repeat("x", 1500))
	measure := func(k crypto.PrivateKey) time.Duration {
		start := time.Now()
		for range n {
			req, _ := http.NewRequest("POST", "http://127.0.0.1/inbox", bytes.NewReader(body))
			_ = activitypub.SignRequest(req, "http://127.0.0.1/users/a#main-key", k, body, time.Now())
		}
		return time.Since(start) / time.Duration(n)
	}
	delivery = measure(wrapped)
	if withGo {
		cryptoRSA = measure(key)
	}
	return delivery, cryptoRSA
}
