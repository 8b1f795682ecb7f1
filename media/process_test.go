package media

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"github.com/starling-social/starling/media/mediatest"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"
)

func pngOf(t testing.TB, w, h int, alpha uint8) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = alpha
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestProcess(t *testing.T) {
	in := mediatest.ExifJPEG(t, 400, 200)
	if !bytes.Contains(in, []byte("Exif")) {
		t.Fatal("the fixture has no EXIF")
	}
	p, err := Process(in)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"original": p.Original, "small": p.Small} {
		if bytes.Contains(b, []byte("Exif")) || bytes.Contains(b, []byte{0xFF, 0xE1}) {
			t.Errorf("%s keeps an EXIF block", name)
		}
		if _, err := jpeg.Decode(bytes.NewReader(b)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Orientation 6: the 400×200 picture is seen as 200×400.
	if o := p.Meta.Original; o.Width != 200 || o.Height != 400 || p.MIME != "image/jpeg" {
		t.Errorf("original %+v %s, want 200x400 image/jpeg", o, p.MIME)
	}
	if len(p.Blurhash) < 6 {
		t.Errorf("blurhash %q", p.Blurhash)
	}

	// Large pictures are scaled to at most MaxStoredPixels, with a thumbnail.
	big, err := Process(pngOf(t, 5000, 2500, 255))
	if err != nil {
		t.Fatal(err)
	}
	if o := big.Meta.Original; o.Width*o.Height > MaxStoredPixels || o.Width < 4000 {
		t.Errorf("scaled original %+v", o)
	}
	if s := big.Meta.Small; s.Width*s.Height > ThumbnailPixels {
		t.Errorf("thumbnail %+v", s)
	}
	// Transparency stays PNG.
	if tr, err := Process(pngOf(t, 50, 50, 100)); err != nil || tr.MIME != "image/png" {
		t.Errorf("transparent PNG: %v %v", tr, err)
	}
}

// TestProcessFormats: WebP and GIF come out as JPEG or PNG pictures.
func TestProcessFormats(t *testing.T) {
	// A 1×1 lossless WebP (the smallest valid file, widely used as a probe).
	webpFile, err := base64.StdEncoding.DecodeString("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")
	if err != nil {
		t.Fatal(err)
	}
	var gifFile bytes.Buffer
	pal := image.NewPaletted(image.Rect(0, 0, 30, 20), color.Palette{color.Black, color.White})
	if err := gif.Encode(&gifFile, pal, nil); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		data []byte
		w, h int
	}{{"WebP", webpFile, 1, 1}, {"GIF", gifFile.Bytes(), 30, 20}} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Process(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if p.Meta.Original.Width != tt.w || p.Meta.Original.Height != tt.h || (p.MIME != "image/jpeg" && p.MIME != "image/png") {
				t.Errorf("%+v %s", p.Meta.Original, p.MIME)
			}
		})
	}
}

func TestProcessRefuses(t *testing.T) {
	jpg := mediatest.ExifJPEG(t, 64, 64)
	// A PNG header claiming 10,000 × 10,000 pixels, with no pixel data:
	// refused from the header alone.
	bomb := pngOf(t, 1, 1, 255)
	binary.BigEndian.PutUint32(bomb[16:], 10_000)
	binary.BigEndian.PutUint32(bomb[20:], 10_000)
	binary.BigEndian.PutUint32(bomb[29:], crc32.ChecksumIEEE(bomb[12:29])) // IHDR's CRC
	for _, tt := range []struct {
		name string
		data []byte
		want error
	}{
		{"truncated JPEG", jpg[:len(jpg)/2], ErrBroken},
		{"100-megapixel PNG header", bomb, ErrTooManyPx},
		{"text", []byte("hello, this is not a picture at all"), ErrUnsupported},
		{"PDF", []byte("%PDF-1.4\n%âãÏÓ\n1 0 obj"), ErrUnsupported},
		{"over the size limit", append(jpg, make([]byte, MaxImageBytes)...), ErrTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Process(tt.data); err != tt.want {
				t.Errorf("Process: %v, want %v", err, tt.want)
			}
		})
	}
}

// BenchmarkProcess12MP: a 12-megapixel JPEG (4000×3000), as phones take.
func BenchmarkProcess12MP(b *testing.B) {
	data := mediatest.ExifJPEG(b, 4000, 3000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Process(data); err != nil {
			b.Fatal(err)
		}
	}
}
