// Package media turns uploaded pictures into what Starling stores and
// serves: a re-encoded original (metadata stripped, orientation applied,
// at most about 8 megapixels, as Mastodon keeps), a thumbnail, their sizes
// and a blurhash; and it stores files, on disk by default.
//
// Decoding is the dangerous part of an upload: sizes are checked from the
// header (image.DecodeConfig) before any pixel is decoded, so a small file
// that claims a huge picture (a decompression bomb) is refused cheaply.
package media

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"net/http"

	"github.com/buckket/go-blurhash"
	"github.com/disintegration/imaging"
	"golang.org/x/image/webp"

	"github.com/starling-social/starling"
)

// Limits of an upload, as Mastodon's defaults: 16 MB per image, and a
// picture of at most 8,294,400 pixels (3840×2160) is kept as sent, larger
// ones are scaled down to that. Pictures beyond MaxSourcePixels are
// refused without being decoded.
const (
	MaxImageBytes   = 16 << 20
	MaxStoredPixels = 3840 * 2160
	MaxSourcePixels = 50_000_000 // a 12-megapixel photo fits; a 100-megapixel PNG does not
	ThumbnailPixels = 640 * 640  // Mastodon's small version: 230,400 pixels … we keep a little more
)

// Errors of processing, with codes the API maps to 422.
var (
	ErrUnsupported = starling.Errorf(starling.EINVALID, "Validation failed: File content type is not supported (JPEG, PNG, WebP and GIF images are)")
	ErrTooLarge    = starling.Errorf(starling.EINVALID, "Validation failed: File file size must be less than 16 MB")
	ErrTooManyPx   = starling.Errorf(starling.EINVALID, "Validation failed: Image dimensions are too large (at most %d pixels)", MaxSourcePixels)
	ErrBroken      = starling.Errorf(starling.EINVALID, "Validation failed: File could not be read as an image")
)

// Meta is Mastodon's attachment meta: the original's and the small
// version's sizes.
type Meta struct {
	Original Size `json:"original"`
	Small    Size `json:"small"`
}

// Size is one version's dimensions.
type Size struct {
	Width  int     `json:"width"`
	Height int     `json:"height"`
	Size   string  `json:"size"`
	Aspect float64 `json:"aspect"`
}

func sizeOf(b image.Rectangle) Size {
	w, h := b.Dx(), b.Dy()
	return Size{Width: w, Height: h, Size: fmt.Sprintf("%dx%d", w, h), Aspect: float64(w) / float64(max(h, 1))}
}

// Processed is an image made ready to store.
type Processed struct {
	Original, Small []byte // encoded files
	MIME            string // of Original: image/jpeg or image/png
	Ext             string // ".jpg" or ".png"
	Meta            Meta
	Blurhash        string
}

// Sniff returns the MIME type of data's first bytes, if it is an image
// type Starling takes, else ErrUnsupported.
func Sniff(head []byte) (string, error) {
	switch mt := http.DetectContentType(head); mt {
	case "image/jpeg", "image/png", "image/gif", "image/webp":
		return mt, nil
	}
	return "", ErrUnsupported
}

// Check refuses, from the file's first bytes and header alone, what
// Process would refuse without decoding: an unsupported type, an
// oversized file, a picture of too many pixels or an unreadable header.
func Check(data []byte) (mimeType string, err error) {
	if len(data) > MaxImageBytes {
		return "", ErrTooLarge
	}
	mt, err := Sniff(data[:min(len(data), 512)])
	if err != nil {
		return "", err
	}
	cfg, err := decodeConfig(mt, data)
	if err != nil {
		return "", ErrBroken
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > MaxSourcePixels {
		return "", ErrTooManyPx
	}
	return mt, nil
}

// Process decodes an uploaded image and encodes what is stored: the
// original without metadata (EXIF, GPS, comments are not carried over by
// re-encoding), turned as its EXIF orientation says and scaled down to
// MaxStoredPixels; a thumbnail; and a blurhash. data is the whole file.
func Process(data []byte) (*Processed, error) {
	mt, err := Check(data)
	if err != nil {
		return nil, err
	}
	img, err := decode(mt, data)
	if err != nil {
		return nil, ErrBroken
	}
	img = shrink(img, MaxStoredPixels)
	small := shrink(img, ThumbnailPixels)
	p := &Processed{Meta: Meta{Original: sizeOf(img.Bounds()), Small: sizeOf(small.Bounds())}}
	// Pictures with transparency stay PNG; the rest become JPEG, as
	// Mastodon's paperclip styles do.
	encode := encodeJPEG
	p.MIME, p.Ext = "image/jpeg", ".jpg"
	if hasAlpha(img) {
		encode = encodePNG
		p.MIME, p.Ext = "image/png", ".png"
	}
	if p.Original, err = encode(img); err != nil {
		return nil, fmt.Errorf("encode image: %w", err)
	}
	if p.Small, err = encode(small); err != nil {
		return nil, fmt.Errorf("encode thumbnail: %w", err)
	}
	// Blurhash from a tiny copy: the encoder is O(pixels × components).
	tiny := imaging.Fit(small, 64, 64, imaging.Box)
	if p.Blurhash, err = blurhash.Encode(4, 3, tiny); err != nil {
		return nil, fmt.Errorf("blurhash: %w", err)
	}
	return p, nil
}

// shrink scales img down to at most pixels, keeping its aspect.
func shrink(img image.Image, pixels int) image.Image {
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	if w*h <= pixels {
		return img
	}
	scale := math.Sqrt(float64(pixels) / float64(w*h))
	return imaging.Fit(img, max(int(float64(w)*scale), 1), max(int(float64(h)*scale), 1), imaging.Lanczos)
}

func decodeConfig(mt string, data []byte) (image.Config, error) {
	r := bytes.NewReader(data)
	switch mt {
	case "image/jpeg":
		return jpeg.DecodeConfig(r)
	case "image/png":
		return png.DecodeConfig(r)
	case "image/gif":
		return gif.DecodeConfig(r)
	case "image/webp":
		return webp.DecodeConfig(r)
	}
	return image.Config{}, ErrUnsupported
}

func decode(mt string, data []byte) (image.Image, error) {
	r := bytes.NewReader(data)
	switch mt {
	case "image/jpeg":
		// imaging reads the EXIF orientation and turns the picture.
		return imaging.Decode(r, imaging.AutoOrientation(true))
	case "image/png":
		return png.Decode(r)
	case "image/gif":
		return gif.Decode(r) // the first frame
	case "image/webp":
		return webp.Decode(r)
	}
	return nil, ErrUnsupported
}

func hasAlpha(img image.Image) bool {
	switch m := img.(type) {
	case *image.YCbCr, *image.Gray, *image.CMYK:
		return false
	case interface{ Opaque() bool }:
		return !m.Opaque()
	}
	return true
}

func encodeJPEG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	err := jpeg.Encode(&buf, flatten(img), &jpeg.Options{Quality: 85})
	return buf.Bytes(), err
}

func encodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img)
	return buf.Bytes(), err
}

// flatten draws img on white, for JPEG (which has no transparency).
func flatten(img image.Image) image.Image {
	if _, ok := img.(*image.YCbCr); ok {
		return img
	}
	out := image.NewRGBA(img.Bounds())
	draw.Draw(out, out.Bounds(), &image.Uniform{C: color.White}, image.Point{}, draw.Src)
	draw.Draw(out, out.Bounds(), img, img.Bounds().Min, draw.Over)
	return out
}

// ReadAll reads at most MaxImageBytes of r: ErrTooLarge beyond.
func ReadAll(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxImageBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read upload: %w", err)
	}
	if len(data) > MaxImageBytes {
		return nil, ErrTooLarge
	}
	return data, nil
}

// IsInvalid reports whether err is a processing refusal (a 422).
func IsInvalid(err error) bool {
	var e *starling.Error
	return errors.As(err, &e) && e.Code == starling.EINVALID
}

// Profile picture sizes, as Mastodon makes them.
const (
	AvatarSize   = 400
	HeaderWidth  = 1500
	HeaderHeight = 500
)

// ProcessPicture makes a profile picture of an upload: cropped to fill
// w×h (scaled down only), without metadata, as JPEG (PNG when it has
// transparency). It refuses what Process refuses.
func ProcessPicture(data []byte, w, h int) (encoded []byte, mimeType, ext string, err error) {
	mt, err := Check(data)
	if err != nil {
		return nil, "", "", err
	}
	img, err := decode(mt, data)
	if err != nil {
		return nil, "", "", ErrBroken
	}
	if img.Bounds().Dx() > w || img.Bounds().Dy() > h {
		img = imaging.Fill(img, min(w, img.Bounds().Dx()), min(h, img.Bounds().Dy()), imaging.Center, imaging.Lanczos)
	}
	if hasAlpha(img) {
		encoded, err = encodePNG(img)
		return encoded, "image/png", ".png", err
	}
	encoded, err = encodeJPEG(img)
	return encoded, "image/jpeg", ".jpg", err
}
