// Package present turns what a device's outputs show into pictures: for
// each output a layer holding the scanout's pixels as RGBA, brought up to
// date from the rectangles the guest flushed (and only those), with the
// hardware cursor drawn on top when a frame is taken. The browser's
// ebiten backend and the headless image backend (PNG files, frame
// hashes) both start from here.
//
// Pixels arrive in any of virtio-gpu's eight 32-bit formats and leave as
// image.RGBA. A scanout is the bottom of the display, so it is opaque:
// its alpha (or X) byte is ignored and every pixel gets alpha 0xff, which
// also makes the frame valid premultiplied RGBA as ebiten wants it. The
// cursor's alpha is kept: it is blended over the scanout.
package present

import (
	"encoding/binary"
	"image"
	"runtime"
	"slices"
	"unsafe"

	"fencelab/device"
)

// Source is what a Presenter reads: a *device.Device.
type Source interface {
	Scanout(i int) device.Scanout
	TakeDamage(i int) []device.Rect
	Cursor() device.Cursor
	CursorImage() (device.Scanout, bool)
}

// Presenter keeps one layer per output of a device. It reads the device
// and takes its damage, so it must run where the device is not running
// (between the machine's steps).
type Presenter struct {
	dev    Source
	layers []layer
}

type layer struct {
	img    *image.RGBA // the scanout's pixels, opaque; nil until first shown
	shown  device.Scanout
	frame  *image.RGBA // img with the cursor, when the cursor is on this output
	cursor cursorMark  // the cursor as the last Update left the frame
}

// cursorMark is where a frame shows the cursor and which picture: the
// zero value when it shows none.
type cursorMark struct {
	at      image.Rectangle // in the output's coordinates, clipped to it
	res     uint32
	version uint64
}

// New returns a Presenter for dev's outputs.
func New(dev Source, outputs int) *Presenter {
	return &Presenter{dev: dev, layers: make([]layer, outputs)}
}

// Update brings output i's layer up to date with what the device shows
// and returns the rectangles of its frame that changed (in the output's
// coordinates), nil if none. A new resource, rectangle or format on the
// output changes all of it; a disabled output is black; a cursor that
// moved, or changed its image, changes where it was and where it is.
func (p *Presenter) Update(i int) []image.Rectangle {
	if i < 0 || i >= len(p.layers) {
		return nil
	}
	changed := p.update(i)
	l := &p.layers[i]
	if c := p.cursorMark(i); c != l.cursor {
		if len(changed) != 1 || changed[0] != l.img.Bounds() { // not all of it already
			for _, r := range [2]image.Rectangle{l.cursor.at, c.at} {
				if !r.Empty() {
					changed = append(changed, r)
				}
			}
		}
		l.cursor = c
	}
	return changed
}

// cursorMark is where output i's frame shows the cursor now.
func (p *Presenter) cursorMark(i int) cursorMark {
	img, at, ok := p.cursorOn(i)
	if !ok {
		return cursorMark{}
	}
	c := p.dev.Cursor()
	r := image.Rect(at.X, at.Y, at.X+int(img.Width), at.Y+int(img.Height)).Intersect(p.layers[i].img.Bounds())
	return cursorMark{at: r, res: c.Resource, version: c.ImageVersion}
}

// cursorOn returns the cursor's image and its top left on output i, if
// the output is on and the cursor is there.
func (p *Presenter) cursorOn(i int) (device.Scanout, image.Point, bool) {
	l := &p.layers[i]
	c := p.dev.Cursor()
	if c.Resource == 0 || int(c.Scanout) != i || l.img == nil || !l.shown.Enabled {
		return device.Scanout{}, image.Point{}, false
	}
	img, ok := p.dev.CursorImage()
	return img, image.Pt(int(c.X)-int(c.HotX), int(c.Y)-int(c.HotY)), ok
}

// update is Update for the layer: the scanout's changes.
func (p *Presenter) update(i int) []image.Rectangle {
	l := &p.layers[i]
	s := p.dev.Scanout(i)
	damage := p.dev.TakeDamage(i)
	size := image.Rect(0, 0, int(s.Rect.Width), int(s.Rect.Height))
	if !s.Enabled {
		if l.img != nil && !l.shown.Enabled {
			return nil
		}
		if l.img == nil {
			l.img = image.NewRGBA(image.Rect(0, 0, 1, 1))
		}
		l.shown = s
		black(l.img.Pix)
		return []image.Rectangle{l.img.Bounds()}
	}
	full := l.img == nil || !l.shown.Enabled || l.shown.Resource != s.Resource || l.shown.Rect != s.Rect || l.shown.Format != s.Format
	if full {
		if l.img == nil || l.img.Bounds() != size {
			l.img = image.NewRGBA(size)
		}
		l.shown = s
		convert(l.img, s, size)
		return []image.Rectangle{size}
	}
	var changed []image.Rectangle
	for _, d := range damage {
		at := image.Pt(int(d.X)-int(s.Rect.X), int(d.Y)-int(s.Rect.Y))
		r := image.Rectangle{Min: at, Max: at.Add(image.Pt(int(d.Width), int(d.Height)))}
		if r = r.Intersect(size); !r.Empty() {
			convert(l.img, s, r)
			changed = append(changed, r)
		}
	}
	return changed
}

// Frame returns output i's picture: its layer with the cursor drawn over
// it if the cursor is on this output. It is valid until the next Update
// or Frame; nil before the first Update.
func (p *Presenter) Frame(i int) *image.RGBA {
	if i < 0 || i >= len(p.layers) || p.layers[i].img == nil {
		return nil
	}
	l := &p.layers[i]
	img, at, ok := p.cursorOn(i)
	if !ok {
		return l.img
	}
	if l.frame == nil || l.frame.Bounds() != l.img.Bounds() {
		l.frame = image.NewRGBA(l.img.Bounds())
	}
	copy(l.frame.Pix, l.img.Pix)
	drawCursor(l.frame, img, at.X, at.Y)
	return l.frame
}

// convert copies rectangle r of the output (in its coordinates) from the
// scanout's resource into dst, as opaque RGBA.
func convert(dst *image.RGBA, s device.Scanout, r image.Rectangle) {
	ri, gi, bi, _, _, ok := device.Channels(s.Format)
	stride := int(s.Width) * 4
	for y := r.Min.Y; y < r.Max.Y; y++ {
		out := dst.Pix[dst.PixOffset(r.Min.X, y):dst.PixOffset(r.Max.X, y)]
		off := (int(s.Rect.Y)+y)*stride + (int(s.Rect.X)+r.Min.X)*4
		if !ok || off < 0 || off+len(out) > len(s.Pixels) {
			black(out) // an unknown format or a short resource
			continue
		}
		swizzle(out, s.Pixels[off:off+len(out)], ri, gi, bi)
	}
}

// swizzle writes the pixels of in, whose red, green and blue are bytes
// ri, gi and bi of each, to out as opaque RGBA. Every pixel of every
// full-screen frame comes through here, in the browser too, where Go's
// wasm does a byte at a time what a machine word could: the four byte
// orders virtio-gpu's formats have each get a loop over two pixels a
// 64-bit word where the machine allows it (wordLoops; in wasm a 1280x720
// frame then takes 1.2 ms instead of 2.4, BenchmarkConvert), and the
// byte loop does the rest.
func swizzle(out, in []byte, ri, gi, bi int) {
	ri, gi, bi = ri&3, gi&3, bi&3
	done := 0
	if n := min(len(out), len(in)) / 8; n > 0 && wordLoops {
		src := unsafe.Slice((*uint64)(unsafe.Pointer(&in[0])), n)
		dst := unsafe.Slice((*uint64)(unsafe.Pointer(&out[0])), n)
		const (
			alpha = 0xff000000_ff000000
			lane  = 0x000000ff_000000ff // byte 0 of each pixel
		)
		done = n * 8
		switch [3]int{ri, gi, bi} {
		case [3]int{0, 1, 2}: // R8G8B8A8, R8G8B8X8
			for j, v := range src {
				dst[j] = v | alpha
			}
		case [3]int{2, 1, 0}: // B8G8R8A8, B8G8R8X8
			for j, v := range src {
				dst[j] = v>>16&lane | v&(lane<<8) | (v&lane)<<16 | alpha
			}
		case [3]int{1, 2, 3}: // A8R8G8B8, X8R8G8B8
			for j, v := range src {
				dst[j] = v>>8 | alpha
			}
		case [3]int{3, 2, 1}: // X8B8G8R8, A8B8G8R8
			for j, v := range src {
				dst[j] = v>>24&lane | v>>8&(lane<<8) | v<<8&(lane<<16) | alpha
			}
		default:
			done = 0
		}
	}
	for j := done; j+3 < len(out) && j+3 < len(in); j += 4 {
		o, p := out[j:j+4:j+4], in[j:j+4:j+4]
		o[0], o[1], o[2], o[3] = p[ri], p[gi], p[bi], 0xff
	}
}

// wordLoops: swizzle's word loops suit this machine. They need a uint64
// loaded from memory to have its first byte lowest, and they load and
// store at any byte address, which these architectures do in hardware.
var wordLoops = binary.NativeEndian.Uint16([]byte{1, 0}) == 1 &&
	slices.Contains([]string{"amd64", "arm64", "wasm", "386", "ppc64le"}, runtime.GOARCH)

// black makes RGBA pixels opaque black.
func black(pix []byte) {
	for j := 0; j+3 < len(pix); j += 4 {
		pix[j], pix[j+1], pix[j+2], pix[j+3] = 0, 0, 0, 0xff
	}
}

// drawCursor blends the cursor image over dst with its top left at
// (x, y), the image's alpha (opaque for a format without one) weighting
// it; the parts outside dst are clipped.
func drawCursor(dst *image.RGBA, c device.Scanout, x, y int) {
	ri, gi, bi, ai, hasAlpha, ok := device.Channels(c.Format)
	if !ok {
		return
	}
	area := image.Rect(x, y, x+int(c.Width), y+int(c.Height)).Intersect(dst.Bounds())
	for py := area.Min.Y; py < area.Max.Y; py++ {
		for px := area.Min.X; px < area.Max.X; px++ {
			in := c.Pixels[((py-y)*int(c.Width)+(px-x))*4:]
			a := uint32(0xff)
			if hasAlpha {
				a = uint32(in[ai])
			}
			out := dst.Pix[dst.PixOffset(px, py):]
			for k, ch := range [3]int{ri, gi, bi} {
				out[k] = byte((uint32(in[ch])*a + uint32(out[k])*(0xff-a) + 127) / 0xff)
			}
		}
	}
}
