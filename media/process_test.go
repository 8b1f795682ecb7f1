package media

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

// exifJPEG returns a w×h JPEG carrying an EXIF block with an orientation
// (6: turn 90° clockwise to view) and a GPS latitude, as phones write.
func exifJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{R: uint8(x * 255 / w), G: uint8(y * 255 / h), B: 128, A: 255})
		}
	}
	var plain bytes.Buffer
	if err := jpeg.Encode(&plain, img, nil); err != nil {
		t.Fatal(err)
	}
	// TIFF, little endian: IFD0 {Orientation=6, GPSInfo→GPS IFD},
	// GPS IFD {GPSLatitudeRef="N"}.
	var tiff bytes.Buffer
	le := binary.LittleEndian
	put := func(v any) { _ = binary.Write(&tiff, le, v) }
	tiff.WriteString("II")
	put(uint16(42))
	put(uint32(8))
	// IFD0 at 8: 2 entries (2 + 2*12 + 4 = 30 bytes), GPS IFD at 38.
	put(uint16(2))
	put(uint16(0x0112))
	put(uint16(3))
	put(uint32(1))
	put(uint16(6))
	put(uint16(0))
	put(uint16(0x8825))
	put(uint16(4))
	put(uint32(1))
	put(uint32(38))
	put(uint32(0))
	put(uint16(1))
	put(uint16(0x0001))
	put(uint16(2))
	put(uint32(2))
	tiff.WriteString("N\x00\x00\x00")
	put(uint32(0))
	payload := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	app1 := []byte{0xFF, 0xE1, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}
	b := plain.Bytes()
	out := append([]byte{}, b[:2]...) // SOI
	out = append(out, app1...)
	out = append(out, payload...)
	return append(out, b[2:]...)
}

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
	in := exifJPEG(t, 400, 200)
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

func TestProcessRefuses(t *testing.T) {
	jpg := exifJPEG(t, 64, 64)
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
	data := exifJPEG(b, 4000, 3000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Process(data); err != nil {
			b.Fatal(err)
		}
	}
}
