//go:build cgo && linux

package activitypub

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>

// OpenSSL 3's types, opaque here: the library is opened at run time, so
// building needs no OpenSSL headers and running needs only libcrypto.so.3.
typedef struct evp_pkey_st EVP_PKEY;
typedef struct evp_pkey_ctx_st EVP_PKEY_CTX;
typedef struct evp_md_st EVP_MD;

static EVP_PKEY *(*p_d2i_PrivateKey)(int, EVP_PKEY **, const unsigned char **, long);
static void (*p_EVP_PKEY_free)(EVP_PKEY *);
static EVP_PKEY_CTX *(*p_EVP_PKEY_CTX_new)(EVP_PKEY *, void *);
static void (*p_EVP_PKEY_CTX_free)(EVP_PKEY_CTX *);
static int (*p_EVP_PKEY_sign_init)(EVP_PKEY_CTX *);
static int (*p_EVP_PKEY_CTX_set_rsa_padding)(EVP_PKEY_CTX *, int);
static int (*p_EVP_PKEY_CTX_set_signature_md)(EVP_PKEY_CTX *, const EVP_MD *);
static int (*p_EVP_PKEY_sign)(EVP_PKEY_CTX *, unsigned char *, size_t *, const unsigned char *, size_t);
static const EVP_MD *(*p_EVP_sha256)(void);
static unsigned long (*p_ERR_get_error)(void);
static void (*p_ERR_error_string_n)(unsigned long, char *, size_t);
static void (*p_ERR_clear_error)(void);

// starling_libcrypto_open loads libcrypto.so.3 and its symbols. It returns
// NULL, or what went wrong.
static const char *starling_libcrypto_open(void) {
	void *h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		return dlerror();
	}
#define LOAD(name) \
	if ((*(void **)(&p_##name) = dlsym(h, #name)) == NULL) { \
		return "libcrypto.so.3 has no " #name; \
	}
	LOAD(d2i_PrivateKey)
	LOAD(EVP_PKEY_free)
	LOAD(EVP_PKEY_CTX_new)
	LOAD(EVP_PKEY_CTX_free)
	LOAD(EVP_PKEY_sign_init)
	LOAD(EVP_PKEY_CTX_set_rsa_padding)
	LOAD(EVP_PKEY_CTX_set_signature_md)
	LOAD(EVP_PKEY_sign)
	LOAD(EVP_sha256)
	LOAD(ERR_get_error)
	LOAD(ERR_error_string_n)
	LOAD(ERR_clear_error)
#undef LOAD
	return NULL;
}

// OpenSSL keeps its error queue per thread, and a goroutine may run on
// another thread at its next cgo call, so each function below reads the
// error in the same call that caused it.
static void starling_error(char *buf, size_t n) {
	unsigned long e = p_ERR_get_error();
	if (e == 0) {
		snprintf(buf, n, "unknown libcrypto error");
	} else {
		p_ERR_error_string_n(e, buf, n);
	}
	p_ERR_clear_error();
}

// starling_rsa_key parses a PKCS#1 RSAPrivateKey (DER).
static EVP_PKEY *starling_rsa_key(const unsigned char *der, long n, char *errbuf, size_t errn) {
	const unsigned char *p = der;
	EVP_PKEY *k = p_d2i_PrivateKey(6, NULL, &p, n); // 6: EVP_PKEY_RSA
	if (k == NULL) {
		starling_error(errbuf, errn);
	}
	return k;
}

// starling_sign_ctx makes a context that signs SHA-256 digests with key,
// RSASSA-PKCS1-v1_5. It may sign any number of times, one at a time.
static EVP_PKEY_CTX *starling_sign_ctx(EVP_PKEY *key, char *errbuf, size_t errn) {
	EVP_PKEY_CTX *ctx = p_EVP_PKEY_CTX_new(key, NULL);
	if (ctx == NULL) {
		starling_error(errbuf, errn);
		return NULL;
	}
	if (p_EVP_PKEY_sign_init(ctx) <= 0 ||
	    p_EVP_PKEY_CTX_set_rsa_padding(ctx, 1) <= 0 || // 1: RSA_PKCS1_PADDING
	    p_EVP_PKEY_CTX_set_signature_md(ctx, p_EVP_sha256()) <= 0) {
		starling_error(errbuf, errn);
		p_EVP_PKEY_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static int starling_sign(EVP_PKEY_CTX *ctx, const unsigned char *digest, size_t dn,
                         unsigned char *sig, size_t *sn, char *errbuf, size_t errn) {
	if (p_EVP_PKEY_sign(ctx, sig, sn, digest, dn) <= 0) {
		starling_error(errbuf, errn);
		return 0;
	}
	return 1;
}

static void starling_free_ctx(EVP_PKEY_CTX *ctx) { p_EVP_PKEY_CTX_free(ctx); }
static void starling_free_key(EVP_PKEY *key) { p_EVP_PKEY_free(key); }
*/
import "C"

import (
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// loadLibcrypto loads libcrypto once per process: the library, like the
// CPU, is the same for every caller.
var loadLibcrypto = sync.OnceValue(func() error {
	if msg := C.starling_libcrypto_open(); msg != nil {
		return fmt.Errorf("load libcrypto: %s", C.GoString(msg))
	}
	return nil
})

// libcryptoKey is an RSA private key held by libcrypto, with a fixed set of
// signing contexts. Taking a context from ctxs is also what bounds how many
// signatures run at once: a cgo call holds its thread for the whole 0.8 ms,
// so letting every delivery worker sign at once would only start hundreds
// of threads competing for the same cores.
type libcryptoKey struct {
	ctxs chan *C.EVP_PKEY_CTX
}

// libcryptoHandles is what the cleanup frees; it must not point back at the
// libcryptoKey it belongs to, or the key would never be collected.
type libcryptoHandles struct {
	key  *C.EVP_PKEY
	ctxs chan *C.EVP_PKEY_CTX
}

func freeLibcrypto(h libcryptoHandles) {
	close(h.ctxs)
	for ctx := range h.ctxs {
		C.starling_free_ctx(ctx)
	}
	if h.key != nil {
		C.starling_free_key(h.key)
	}
}

// newLibcryptoKey copies key into libcrypto.
func newLibcryptoKey(key *rsa.PrivateKey) (*libcryptoKey, error) {
	if err := loadLibcrypto(); err != nil {
		return nil, err
	}
	der := x509.MarshalPKCS1PrivateKey(key)
	var errbuf [256]C.char
	// One signature at a time per core: more would only take turns.
	h := libcryptoHandles{ctxs: make(chan *C.EVP_PKEY_CTX, min(runtime.GOMAXPROCS(0), runtime.NumCPU()))}
	h.key = C.starling_rsa_key((*C.uchar)(unsafe.Pointer(&der[0])), C.long(len(der)), &errbuf[0], C.size_t(len(errbuf)))
	clear(der)
	if h.key == nil {
		freeLibcrypto(h)
		return nil, fmt.Errorf("libcrypto: parse key: %s", C.GoString(&errbuf[0]))
	}
	for range cap(h.ctxs) {
		ctx := C.starling_sign_ctx(h.key, &errbuf[0], C.size_t(len(errbuf)))
		if ctx == nil {
			freeLibcrypto(h)
			return nil, fmt.Errorf("libcrypto: signing context: %s", C.GoString(&errbuf[0]))
		}
		h.ctxs <- ctx
	}
	k := &libcryptoKey{ctxs: h.ctxs}
	runtime.AddCleanup(k, freeLibcrypto, h)
	return k, nil
}

// signSHA256 signs a SHA-256 digest, RSASSA-PKCS1-v1_5, into a new slice of
// size bytes (the modulus length).
func (k *libcryptoKey) signSHA256(digest []byte, size int) ([]byte, error) {
	if len(digest) != 32 {
		return nil, errors.New("libcrypto: digest is not SHA-256")
	}
	sig := make([]byte, size)
	n := C.size_t(len(sig))
	var errbuf [256]C.char
	ctx := <-k.ctxs
	ok := C.starling_sign(ctx, (*C.uchar)(unsafe.Pointer(&digest[0])), C.size_t(len(digest)),
		(*C.uchar)(unsafe.Pointer(&sig[0])), &n, &errbuf[0], C.size_t(len(errbuf)))
	k.ctxs <- ctx
	runtime.KeepAlive(k)
	if ok == 0 {
		return nil, fmt.Errorf("libcrypto: sign: %s", C.GoString(&errbuf[0]))
	}
	return sig[:n], nil
}
