// Package mediatest makes what media tests need: a phone-like JPEG with
// EXIF orientation and GPS tags, and an S3-compatible server.
package mediatest

import (
	"net/http/httptest"

	"bytes"
	"encoding/binary"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
)

// ExifJPEG returns a w×h JPEG carrying an EXIF block with an orientation
// (6: turn 90° clockwise to view) and a GPS latitude, as phones write.
func ExifJPEG(t testing.TB, w, h int) []byte {
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

// StartS3 runs an S3-compatible server in-process (gofakes3, in memory)
// with bucket made, for as long as the test runs; its URL is the endpoint
// (path-style: URL/bucket/key).
func StartS3(tb testing.TB, bucket string) *httptest.Server {
	tb.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	tb.Cleanup(srv.Close)
	return srv
}
