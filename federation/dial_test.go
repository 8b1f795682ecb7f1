package federation

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestNewHTTPClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	// "localhost" checks that the guard looks at the resolved address, not
	// the name.
	viaName := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)

	tests := []struct {
		name         string
		url          string
		allowPrivate bool
		wantErr      error
	}{
		{"ErrPrivateAddress", srv.URL, false, ErrPrivateAddress},
		{"ErrPrivateAddressByName", viaName, false, ErrPrivateAddress},
		{"OK/AllowPrivate", srv.URL, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := NewHTTPClient(5*time.Second, tt.allowPrivate)
			resp, err := client.Get(tt.url)
			if tt.wantErr != nil {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("GET %s succeeded, want %v", tt.url, tt.wantErr)
				}
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want it to wrap %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				t.Errorf("status = %d, want %d", resp.StatusCode, http.StatusNoContent)
			}
		})
	}
}

func TestNewHTTPClient_Redirects(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, "/again", http.StatusFound)
	}))
	defer srv.Close()

	resp, err := NewHTTPClient(5*time.Second, true).Get(srv.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatal("endless redirects were followed without error")
	}
	if got, want := hits.Load(), int32(1+clientMaxRedirects); got != want {
		t.Errorf("%d requests, want %d", got, want)
	}
}

func TestNewHTTPClient_Timeout(t *testing.T) {
	client := NewHTTPClient(42*time.Second, false)
	if client.Timeout != 42*time.Second {
		t.Errorf("Timeout = %v, want 42s", client.Timeout)
	}
	tr, ok := client.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("Transport is %T", client.Transport)
	}
	if tr.Proxy != nil {
		t.Error("client honours proxy settings, which would bypass the address guard")
	}
	if tr.ResponseHeaderTimeout == 0 || tr.TLSHandshakeTimeout == 0 {
		t.Error("transport has no header or handshake timeout")
	}
}

func TestIsPublicAddr(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"8.8.8.8", true},
		{"1.1.1.1", true},
		{"93.184.215.14", true},
		{"2606:4700:4700::1111", true},
		{"2a01:4f8:c17:b8f::2", true},
		{"::ffff:8.8.8.8", true},
		{"64:ff9b::808:808", true}, // NAT64 of 8.8.8.8
		{"2002:808:808::1", true},  // 6to4 of 8.8.8.8

		{"127.0.0.1", false},
		{"127.255.255.254", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"192.168.1.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"100.64.0.1", false},
		{"192.0.0.8", false},
		{"192.0.2.1", false},
		{"198.18.0.1", false},
		{"198.51.100.1", false},
		{"203.0.113.1", false},
		{"224.0.0.1", false},
		{"239.255.255.250", false},
		{"240.0.0.1", false},
		{"255.255.255.255", false},
		{"::", false},
		{"::1", false},
		{"::ffff:127.0.0.1", false},
		{"::ffff:10.0.0.1", false},
		{"::127.0.0.1", false},
		{"fe80::1", false},
		{"fe80::1%eth0", false},
		{"fc00::1", false},
		{"fd12:3456:789a::1", false},
		{"fec0::1", false},
		{"ff02::1", false},
		{"2001:db8::1", false},
		{"2001::1", false},          // Teredo
		{"64:ff9b::a00:1", false},   // NAT64 of 10.0.0.1
		{"64:ff9b::7f00:1", false},  // NAT64 of 127.0.0.1
		{"64:ff9b:1::a00:1", false}, // local-use NAT64
		{"2002:a00:1::1", false},    // 6to4 of 10.0.0.1
		{"2002:7f00:1::1", false},   // 6to4 of 127.0.0.1
		{"100::1", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if got := isPublicAddr(netip.MustParseAddr(tt.addr)); got != tt.want {
				t.Errorf("isPublicAddr(%s) = %v, want %v", tt.addr, got, tt.want)
			}
		})
	}
}

func TestRefuseNonPublic(t *testing.T) {
	tests := []struct {
		network, address string
		wantErr          bool
	}{
		{"tcp4", "8.8.8.8:443", false},
		{"tcp6", "[2606:4700:4700::1111]:443", false},
		{"tcp4", "127.0.0.1:443", true},
		{"tcp6", "[::1]:443", true},
		{"tcp6", "[fe80::1%eth0]:443", true},
		{"tcp", "not an address", true},
	}
	for _, tt := range tests {
		t.Run(tt.address, func(t *testing.T) {
			err := refuseNonPublic(tt.network, tt.address, nil)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrPrivateAddress) {
				t.Errorf("err = %v, want it to wrap ErrPrivateAddress", err)
			}
		})
	}
}

// TestRedirectToPrivateRefused: a redirect is dialled through the same
// guard as the first request, so a public document that redirects to
// loopback, a private range or the metadata address is refused without a
// connection. The "public" server is on loopback too, so the guard is
// told to let that one address through, and only it.
func TestRedirectToPrivateRefused(t *testing.T) {
	var trapped atomic.Int32
	trap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { trapped.Add(1) }))
	defer trap.Close()
	for _, target := range []string{trap.URL + "/key", "http://10.1.2.3/key", "http://169.254.169.254/latest/meta-data/",
		"http://100.64.0.1/key", "http://[::1]:1/key", strings.Replace(trap.URL, "127.0.0.1", "localhost", 1) + "/key"} {
		t.Run(target, func(t *testing.T) {
			public := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target, http.StatusFound)
			}))
			defer public.Close()
			client := NewHTTPClient(5*time.Second, false)
			d := newDialer(false)
			d.Control = func(network, address string, c syscall.RawConn) error {
				if address == public.Listener.Addr().String() {
					return nil // stands in for a public address
				}
				return refuseNonPublic(network, address, c)
			}
			client.Transport.(*http.Transport).DialContext = d.DialContext
			resp, err := client.Get(public.URL + "/users/evil")
			if err == nil {
				resp.Body.Close()
				t.Fatalf("redirect to %s followed: %d", target, resp.StatusCode)
			}
			if !errors.Is(err, ErrPrivateAddress) {
				t.Errorf("err = %v, want it to wrap ErrPrivateAddress", err)
			}
		})
	}
	if n := trapped.Load(); n != 0 {
		t.Errorf("the loopback server behind the redirect was asked %d times", n)
	}
}
