// Command ceiling is the smallest ebiten program that does what the
// page does each frame: a new 1280x720 frame is written into the screen
// (WritePixels) and copied to the canvas (a FinalScreenDrawer with
// BlendCopy), as wasm/main_js.go does. It runs no machine. Its frame
// rate in a browser is the most an ebiten page drawing this way can show
// at that size on the same machine: BenchmarkCeilingEbiten in
// web/bench_test.go measures it beside fencelab's page (BENCHMARKS.md).
package main

import (
	"syscall/js"

	"github.com/hajimehoshi/ebiten/v2"
)

const w, h = 1280, 720

type ceiling struct {
	pix   []byte
	draws int
}

func (c *ceiling) Update() error { return nil }

func (c *ceiling) Draw(screen *ebiten.Image) {
	c.draws++
	// One row changes each frame, so every frame is a new one to the
	// browser, as a guest's frames are; the whole frame is written, as
	// one that changes everywhere is.
	row := c.draws % h
	for i := row * w * 4; i < (row+1)*w*4; i++ {
		c.pix[i] = byte(c.draws)
	}
	screen.WritePixels(c.pix)
	js.Global().Set("ceilingDraws", c.draws)
}

func (c *ceiling) DrawFinalScreen(screen ebiten.FinalScreen, off *ebiten.Image, geoM ebiten.GeoM) {
	screen.DrawImage(off, &ebiten.DrawImageOptions{GeoM: geoM, Blend: ebiten.BlendCopy})
}

func (c *ceiling) Layout(int, int) (int, int) { return w, h }

func main() {
	c := &ceiling{pix: make([]byte, w*h*4)}
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
