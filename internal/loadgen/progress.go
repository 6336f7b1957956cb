package loadgen

import (
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/schollz/progressbar/v3"
)

// Progress is the live progress line of a run: a bar with a description,
// redrawn in place. It draws only on a terminal; on anything else (a pipe,
// a file, a test) every method is a no-op except Println, which writes plain
// lines, so a script's logs carry the periodic status and no control codes.
// Safe for concurrent use.
type Progress struct {
	mu  sync.Mutex // guards the fields below and writes to w
	w   io.Writer
	bar *progressbar.ProgressBar // nil when not drawing
}

// NewProgress returns a Progress writing to w with a bar out of total
// (a count of requests, connections or milliseconds). It draws only if w is
// an *os.File on a terminal and quiet is false.
func NewProgress(w io.Writer, total int64, quiet bool) *Progress {
	p := &Progress{w: w}
	f, ok := w.(*os.File)
	if quiet || !ok || !IsTerminal(f) {
		return p
	}
	// One more than total: progressbar ends a bar that reaches its maximum
	// (and stops redrawing it), and a run that reaches its target (all
	// connections up) still has a hold phase to show.
	p.bar = progressbar.NewOptions64(max(total, 1)+1,
		progressbar.OptionSetWriter(f),
		progressbar.OptionSetWidth(20),
		progressbar.OptionThrottle(0),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionSetElapsedTime(false),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionUseANSICodes(true),
	)
	return p
}

// Drawing reports whether p draws a live line.
func (p *Progress) Drawing() bool { return p.bar != nil }

// Update sets the bar to done (of the total given to NewProgress) and the
// text after it to desc, and redraws.
func (p *Progress) Update(done int64, desc string) {
	if p.bar == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bar.Describe(desc)
	p.bar.Set64(min(done, p.bar.GetMax64()-1))
}

// Println writes a line above the live line (or, with no live line, just the
// line), then redraws the live line.
func (p *Progress) Println(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Clear()
	}
	fmt.Fprintf(p.w, format+"\n", args...)
	if p.bar != nil {
		p.bar.RenderBlank()
	}
}

// Finish erases the live line so that the summary starts on a clean line.
func (p *Progress) Finish() {
	if p.bar == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bar.Clear()
	p.bar = nil
}
