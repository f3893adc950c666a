// Command ceiling is the smallest ebiten program that does what the
// page does each frame: new pixels for a 1280x720 image go to the GPU
// and the image is drawn to the screen. It runs no machine. Its frame
// rate in a browser is the most any ebiten page can show at that size
// on the same machine: BenchmarkCeilingEbiten in web/bench_test.go
// measures it beside fencelab's page (BENCHMARKS.md).
package main

import (
	"syscall/js"

	"github.com/hajimehoshi/ebiten/v2"
)

const w, h = 1280, 720

type ceiling struct {
	img   *ebiten.Image
	pix   []byte
	draws int
}

func (c *ceiling) Update() error { return nil }

func (c *ceiling) Draw(screen *ebiten.Image) {
	c.draws++
	// One row changes each frame, so every frame is a new one to the
	// browser, as a guest's frames are; the whole image is uploaded, as
	// a frame that changes everywhere is.
	row := c.draws % h
	for i := row * w * 4; i < (row+1)*w*4; i++ {
		c.pix[i] = byte(c.draws)
	}
	c.img.WritePixels(c.pix)
	screen.DrawImage(c.img, nil)
	js.Global().Set("ceilingDraws", c.draws)
}

func (c *ceiling) Layout(int, int) (int, int) { return w, h }

func main() {
	c := &ceiling{img: ebiten.NewImage(w, h), pix: make([]byte, w*h*4)}
	for i := 3; i < len(c.pix); i += 4 {
		c.pix[i] = 0xff
	}
	// As the page sets it: one Update a drawn frame, and the screen kept.
	ebiten.SetTPS(ebiten.SyncWithFPS)
	ebiten.SetScreenClearedEveryFrame(false)
	if err := ebiten.RunGame(c); err != nil {
		js.Global().Get("console").Call("error", err.Error())
	}
}
