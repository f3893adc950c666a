package present

import (
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"fencelab/device"
)

// fake is a device with hand-made resources.
type fake struct {
	scanouts []device.Scanout
	damage   [][]device.Rect
	cursor   device.Cursor
	images   map[uint32]device.Scanout
}

func (f *fake) Scanout(i int) device.Scanout { return f.scanouts[i] }
func (f *fake) TakeDamage(i int) []device.Rect {
	d := f.damage[i]
	f.damage[i] = nil
	return d
}
func (f *fake) Cursor() device.Cursor { return f.cursor }
func (f *fake) CursorImage() (device.Scanout, bool) {
	s, ok := f.images[f.cursor.Resource]
	return s, ok && f.cursor.Resource != 0
}

// pixel writes r, g, b, a in format's byte order.
func pixel(format uint32, r, g, b, a byte) []byte {
	ri, gi, bi, ai, _, _ := device.Channels(format)
	p := make([]byte, 4)
	p[ri], p[gi], p[bi], p[ai] = r, g, b, a
	return p
}

func resource(format uint32, w, h int, px func(x, y int) []byte) device.Scanout {
	s := device.Scanout{Enabled: true, Resource: 1, Format: format, Rect: device.Rect{Width: uint32(w), Height: uint32(h)},
		Width: uint32(w), Height: uint32(h), Pixels: make([]byte, w*h*4)}
	for y := range h {
		for x := range w {
			copy(s.Pixels[(y*w+x)*4:], px(x, y))
		}
	}
	return s
}

// Every format's bytes come out as the same RGBA, opaque whatever the
// alpha or X byte held: the display's bottom layer has no transparency.
func TestFormats(t *testing.T) {
	formats := map[uint32]string{
		device.VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM: "BGRA", device.VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM: "BGRX",
		device.VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM: "ARGB", device.VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM: "XRGB",
		device.VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM: "RGBA", device.VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM: "XBGR",
		device.VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM: "ABGR", device.VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM: "RGBX",
	}
	for format, name := range formats {
		f := &fake{damage: make([][]device.Rect, 1), scanouts: []device.Scanout{
			resource(format, 3, 2, func(x, y int) []byte { return pixel(format, byte(10*x), byte(20*y), 0x7f, 0x12) }),
		}}
		p := New(f, 1)
		if got := p.Update(0); len(got) != 1 || got[0] != image.Rect(0, 0, 3, 2) {
			t.Errorf("%s: first update changed %v; want all of it", name, got)
		}
		img := p.Frame(0)
		for y := range 2 {
			for x := range 3 {
				want := [4]byte{byte(10 * x), byte(20 * y), 0x7f, 0xff}
				if got := [4]byte(img.Pix[img.PixOffset(x, y):]); got != want {
					t.Errorf("%s: pixel (%d, %d) = %v; want %v", name, x, y, got, want)
				}
			}
		}
	}
}

// After the first frame only the flushed rectangles are copied, shifted
// by the scanout's origin in its resource; the rest of the layer keeps
// what it had even if the resource changed there.
func TestDamageOnly(t *testing.T) {
	const xrgb = device.VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM
	s := resource(xrgb, 8, 8, func(x, y int) []byte { return pixel(xrgb, 1, 1, 1, 0) })
	s.Rect = device.Rect{X: 2, Y: 2, Width: 4, Height: 4} // the output shows the middle
	f := &fake{scanouts: []device.Scanout{s}, damage: make([][]device.Rect, 1)}
	p := New(f, 1)
	p.Update(0)
	for i := range s.Pixels {
		s.Pixels[i] = 9
	}
	f.damage[0] = []device.Rect{{X: 3, Y: 3, Width: 1, Height: 2}, {X: 100, Y: 100, Width: 5, Height: 5}}
	got := p.Update(0)
	if len(got) != 1 || got[0] != image.Rect(1, 1, 2, 3) {
		t.Fatalf("changed %v; want the one rectangle (1,1)-(2,3) in the output", got)
	}
	img := p.Frame(0)
	for y := range 4 {
		for x := range 4 {
			want := byte(1)
			if x == 1 && (y == 1 || y == 2) {
				want = 9
			}
			if img.Pix[img.PixOffset(x, y)] != want {
				t.Errorf("pixel (%d, %d) red = %d; want %d", x, y, img.Pix[img.PixOffset(x, y)], want)
			}
		}
	}
	if got := p.Update(0); got != nil {
		t.Errorf("no damage changed %v", got)
	}
	// Another resource on the output: all of it again.
	f.scanouts[0].Resource = 2
	if got := p.Update(0); len(got) != 1 || got[0] != image.Rect(0, 0, 4, 4) {
		t.Errorf("a new resource changed %v; want all of it", got)
	}
	// Off: black, once.
	f.scanouts[0] = device.Scanout{}
	if got := p.Update(0); len(got) != 1 || [4]byte(p.Frame(0).Pix) != [4]byte{0, 0, 0, 0xff} {
		t.Errorf("disabled output: changed %v, pixel %v; want one black frame", got, p.Frame(0).Pix[:4])
	}
	if got := p.Update(0); got != nil {
		t.Errorf("still disabled: changed %v", got)
	}
}

// The cursor is blended by its alpha over the output it is on, at its
// position less its hot spot, clipped at the edges; on another output,
// or hidden, it is not drawn.
func TestCursor(t *testing.T) {
	const xrgb, argb = device.VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, device.VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM
	f := &fake{damage: make([][]device.Rect, 2), scanouts: []device.Scanout{
		resource(xrgb, 4, 4, func(x, y int) []byte { return pixel(xrgb, 0, 0, 200, 0) }),
		resource(xrgb, 4, 4, func(x, y int) []byte { return pixel(xrgb, 0, 0, 200, 0) }),
	}, images: map[uint32]device.Scanout{
		7: resource(argb, 2, 2, func(x, y int) []byte { return pixel(argb, 255, 0, 0, []byte{255, 0, 128, 255}[y*2+x]) }),
	}}
	f.cursor = device.Cursor{Scanout: 0, X: 4, Y: 3, HotX: 1, HotY: 0, Resource: 7}
	p := New(f, 2)
	p.Update(0)
	p.Update(1)
	img := p.Frame(0)
	at := func(img *image.RGBA, x, y int) [4]byte { return [4]byte(img.Pix[img.PixOffset(x, y):]) }
	// The cursor's (0,0) lands at (3,3); its (1,0) at (4,3), off the output.
	if got, want := at(img, 3, 3), [4]byte{255, 0, 0, 255}; got != want {
		t.Errorf("under the cursor's opaque pixel: %v; want %v", got, want)
	}
	if got, want := at(img, 2, 3), [4]byte{0, 0, 200, 255}; got != want {
		t.Errorf("beside the cursor: %v; want %v", got, want)
	}
	if got := at(p.Frame(1), 3, 3); got != [4]byte{0, 0, 200, 255} {
		t.Errorf("output 1 has the cursor: %v", got)
	}
	f.cursor.X, f.cursor.Y = 1, 0 // now (0,0)..(1,1) of output 0
	img = p.Frame(0)
	if got, want := at(img, 0, 1), [4]byte{128, 0, 100, 255}; got != want {
		t.Errorf("half-transparent cursor pixel: %v; want %v", got, want)
	}
	if got, want := at(img, 1, 0), [4]byte{0, 0, 200, 255}; got != want {
		t.Errorf("transparent cursor pixel: %v; want %v", got, want)
	}
	if got := at(img, 3, 3); got != [4]byte{0, 0, 200, 255} {
		t.Errorf("where the cursor was: %v; want the scanout again", got)
	}
	f.cursor.Resource = 0
	if got := at(p.Frame(0), 0, 0); got != [4]byte{0, 0, 200, 255} {
		t.Errorf("hidden cursor drawn: %v", got)
	}
}

// A frame (opaque, as every frame is) written as PNG reads back as the
// same pixels; the hash tells
// frames apart and is the same for equal ones.
func TestPNGAndHash(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 5, 3))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
		if i%4 == 3 {
			img.Pix[i] = 0xff
		}
	}
	d := &PNGDir{Dir: filepath.Join(t.TempDir(), "frames")}
	path, err := d.Write(1, img)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "out1-000001.png" {
		t.Errorf("first frame of output 1 is %s", path)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	back, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	for y := range 3 {
		for x := range 5 {
			r, g, b, a := back.At(x, y).RGBA()
			if o := img.PixOffset(x, y); [4]byte{byte(r >> 8), byte(g >> 8), byte(b >> 8), byte(a >> 8)} != [4]byte(img.Pix[o:]) {
				t.Fatalf("pixel (%d, %d) read back differs", x, y)
			}
		}
	}
	same := image.NewRGBA(img.Rect)
	copy(same.Pix, img.Pix)
	if Hash(same) != Hash(img) {
		t.Error("equal frames hash differently")
	}
	same.Pix[17]++
	if Hash(same) == Hash(img) {
		t.Error("different frames hash the same")
	}
	if p2, _ := d.Write(1, img); filepath.Base(p2) != "out1-000002.png" {
		t.Errorf("second frame is %s", p2)
	}
}

// BenchmarkFullFrame converts a whole 1280x720 B8G8R8X8 frame, what
// triangle's every flip costs the presenter.
func BenchmarkFullFrame(b *testing.B) {
	const xrgb = device.VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM
	f := &fake{damage: make([][]device.Rect, 1), scanouts: []device.Scanout{
		resource(xrgb, 1280, 720, func(x, y int) []byte { return pixel(xrgb, byte(x), byte(y), 3, 0) }),
	}}
	p := New(f, 1)
	for b.Loop() {
		f.scanouts[0].Resource++ // a new resource: all of it
		p.Update(0)
	}
}

// A cursor that moves or changes its picture changes the frame where it
// was and where it is, with no damage flushed; moving it to another
// output changes both outputs; one that stays put changes nothing.
func TestCursorChanges(t *testing.T) {
	const xrgb, argb = device.VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, device.VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM
	f := &fake{damage: make([][]device.Rect, 2), scanouts: []device.Scanout{
		resource(xrgb, 8, 8, func(x, y int) []byte { return pixel(xrgb, 0, 0, 200, 0) }),
		resource(xrgb, 8, 8, func(x, y int) []byte { return pixel(xrgb, 0, 0, 200, 0) }),
	}, images: map[uint32]device.Scanout{
		7: resource(argb, 2, 2, func(x, y int) []byte { return pixel(argb, 255, 0, 0, 255) }),
	}}
	f.cursor = device.Cursor{Scanout: 0, X: 1, Y: 1, Resource: 7, ImageVersion: 1}
	p := New(f, 2)
	if got := p.Update(0); len(got) != 1 || got[0] != image.Rect(0, 0, 8, 8) {
		t.Fatalf("first update: %v; want all of it", got)
	}
	p.Update(1)
	if got := p.Update(0); got != nil {
		t.Errorf("nothing moved: %v", got)
	}
	f.cursor.X, f.cursor.Y = 7, 5 // clipped at the right edge
	if got, want := p.Update(0), []image.Rectangle{image.Rect(1, 1, 3, 3), image.Rect(7, 5, 8, 7)}; !slices.Equal(got, want) {
		t.Errorf("moved: %v; want %v", got, want)
	}
	f.cursor.ImageVersion++ // a new picture in the same place
	if got, want := p.Update(0), []image.Rectangle{image.Rect(7, 5, 8, 7), image.Rect(7, 5, 8, 7)}; !slices.Equal(got, want) {
		t.Errorf("new image: %v; want %v", got, want)
	}
	f.cursor.Scanout, f.cursor.X, f.cursor.Y = 1, 0, 0
	if got, want := p.Update(0), []image.Rectangle{image.Rect(7, 5, 8, 7)}; !slices.Equal(got, want) {
		t.Errorf("left output 0: %v; want %v", got, want)
	}
	if got, want := p.Update(1), []image.Rectangle{image.Rect(0, 0, 2, 2)}; !slices.Equal(got, want) {
		t.Errorf("arrived on output 1: %v; want %v", got, want)
	}
	if got := p.Frame(1).Pix[:4]; [4]byte(got) != [4]byte{255, 0, 0, 255} {
		t.Errorf("output 1's frame at (0,0): %v; want the cursor", got)
	}
	f.cursor.Resource = 0
	if got, want := p.Update(1), []image.Rectangle{image.Rect(0, 0, 2, 2)}; !slices.Equal(got, want) {
		t.Errorf("hidden: %v; want %v", got, want)
	}
	// Partly off the top left: only what is on the output changes.
	f.cursor.Resource, f.cursor.X, f.cursor.Y, f.cursor.HotX, f.cursor.HotY = 7, 0, 0, 1, 1
	if got, want := p.Update(1), []image.Rectangle{image.Rect(0, 0, 1, 1)}; !slices.Equal(got, want) {
		t.Errorf("at (-1,-1): %v; want %v", got, want)
	}
	// The output goes off: all of it changes (black), and a cursor on a
	// dark output is not drawn, so it moving there changes nothing.
	f.scanouts[1] = device.Scanout{}
	if got, want := p.Update(1), []image.Rectangle{image.Rect(0, 0, 8, 8)}; !slices.Equal(got, want) {
		t.Errorf("output off: %v; want %v", got, want)
	}
	f.cursor.X = 5
	if got := p.Update(1); got != nil {
		t.Errorf("cursor moved on a dark output: %v; want nothing", got)
	}
	if got := p.Frame(1).Pix[5*4 : 5*4+4]; [4]byte(got) != [4]byte{0, 0, 0, 255} {
		t.Errorf("a dark output's frame at the cursor: %v; want black", got)
	}
}

// swizzle's word loops give exactly what the byte loop gives, for every
// format, any number of pixels (odd ones included) and slices that
// start anywhere in their arrays.
func TestSwizzle(t *testing.T) {
	formats := []uint32{
		device.VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, device.VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM,
		device.VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM, device.VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM,
		device.VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM, device.VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM,
		device.VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM, device.VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM,
	}
	src := make([]byte, 64)
	for i := range src {
		src[i] = byte(i*37 + 11)
	}
	for _, f := range formats {
		ri, gi, bi, _, _, _ := device.Channels(f)
		for pixels := range 9 {
			for shift := range 4 {
				in := src[shift : shift+pixels*4]
				got := make([]byte, pixels*4+3)[shift%3:][:pixels*4]
				swizzle(got, in, ri, gi, bi)
				for p := range pixels {
					want := [4]byte{in[p*4+ri], in[p*4+gi], in[p*4+bi], 0xff}
					if [4]byte(got[p*4:]) != want {
						t.Fatalf("format %d, %d pixels, offset %d: pixel %d = %v; want %v", f, pixels, shift, p, got[p*4:p*4+4], want)
					}
				}
			}
		}
	}
}

// BenchmarkConvert: one 1280x720 B8G8R8X8 frame made opaque RGBA, as
// each flip of a full-screen guest needs (run it in the browser's wasm
// with GOOS=js GOARCH=wasm and go_js_wasm_exec).
func BenchmarkConvert(b *testing.B) {
	in, out := make([]byte, 1280*720*4), make([]byte, 1280*720*4)
	ri, gi, bi, _, _, _ := device.Channels(device.VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		swizzle(out, in, ri, gi, bi)
	}
}
