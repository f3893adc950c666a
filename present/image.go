package present

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
)

// Hash is a frame's identity for tests and bug reports: the SHA-256 of
// its size and pixels, as 32 hex digits (the first half).
func Hash(img *image.RGBA) string {
	h := sha256.New()
	var size [8]byte
	binary.LittleEndian.PutUint32(size[:], uint32(img.Rect.Dx()))
	binary.LittleEndian.PutUint32(size[4:], uint32(img.Rect.Dy()))
	h.Write(size[:])
	for y := img.Rect.Min.Y; y < img.Rect.Max.Y; y++ {
		h.Write(img.Pix[img.PixOffset(img.Rect.Min.X, y):img.PixOffset(img.Rect.Max.X, y)])
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// PNGDir is the image backend's output: each frame given to Write
// becomes DIR/out<OUTPUT>-<N>.png, N counting that output's frames from
// 1 in six digits. The directory is created if it is missing.
type PNGDir struct {
	Dir string
	n   map[int]int
}

// Write stores img as the next frame of output out and returns the
// file's path.
func (d *PNGDir) Write(out int, img *image.RGBA) (string, error) {
	if d.n == nil {
		if err := os.MkdirAll(d.Dir, 0o755); err != nil {
			return "", err
		}
		d.n = map[int]int{}
	}
	d.n[out]++
	path := filepath.Join(d.Dir, fmt.Sprintf("out%d-%06d.png", out, d.n[out]))
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(f, img); err != nil {
		f.Close()
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return path, f.Close()
}
