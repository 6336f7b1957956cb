package httpd

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"

	"wharf/engine"
	"wharf/httpd/internal/h1"
)

// ReadFrom lets io.Copy into the response send a file range with the
// engine's AsyncSendFile (sendfile(2) on the reactor: no copy through user
// space). http.ServeContent, and so http.FileServer, copies through
// io.CopyN, which arrives here with an *io.LimitedReader over the file.
func (w *response) ReadFrom(src io.Reader) (int64, error) {
	f, off, n, ok := fileRange(src)
	if !ok || w.hijacked || w.j.head || n < 4096 {
		return io.Copy(writerOnly{w}, src)
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowedForStatus(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.cl >= 0 && w.written+n > w.cl {
		return 0, http.ErrContentLength
	}
	w.flush() // header and buffered bytes go first
	// The file goes to the engine directly, past responseOrder: wait for
	// this response's turn, or it could overtake its own header, held
	// until the response before it has ended.
	if !w.c.ord.waitTurn(w) {
		return 0, ErrConnClosed
	}
	if err := w.connErr(); err != nil {
		return 0, err
	}
	if w.chunked {
		w.send(h1.AppendChunkHeader(nil, n))
	}
	done := make(chan error, 1)
	if err := w.c.ec.AsyncSendFile(f, off, n, func(_ engine.Conn, err error) { done <- err }); err != nil {
		return 0, ErrConnClosed
	}
	// Wait: the caller closes the file when we return.
	if err := <-done; err != nil {
		w.sent(0, err)
		return 0, ErrConnClosed
	}
	if w.chunked {
		w.send([]byte("\r\n"))
	}
	w.written += n
	w.s.ctr.sendfiles.Add(1)
	if _, err := f.Seek(off+n, io.SeekStart); err != nil { // as if read
		return n, err
	}
	if lr, ok := src.(*io.LimitedReader); ok {
		lr.N -= n
	}
	return n, nil
}

// writerOnly hides ReadFrom, so io.Copy uses plain writes.
type writerOnly struct{ io.Writer }

// fileRange recognises a file (or a limited reader of one) and the range
// a copy from it would read.
func fileRange(src io.Reader) (f *os.File, off, n int64, ok bool) {
	limit := int64(-1)
	if lr, isLR := src.(*io.LimitedReader); isLR {
		src, limit = lr.R, lr.N
	}
	f, ok = src.(*os.File)
	if !ok {
		return nil, 0, 0, false
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil, 0, 0, false
	}
	off, err = f.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, 0, 0, false
	}
	n = fi.Size() - off
	if limit >= 0 && limit < n {
		n = limit
	}
	return f, off, n, n > 0
}

// FileServer serves the files under root, like http.FileServer, with what
// a static file server is expected to do: Content-Type by extension,
// Last-Modified and an ETag (conditional requests answer 304), Range (206),
// HEAD, and the body sent with sendfile through the engine. It lists no
// directories (a directory serves its index.html, or 404) and serves no
// dotfiles.
func FileServer(root string) http.Handler { return &fileServer{root: root} }

type fileServer struct{ root string }

func (fs *fileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := path.Clean("/" + r.URL.Path)
	for _, part := range strings.Split(p, "/") {
		if strings.HasPrefix(part, ".") {
			http.NotFound(w, r)
			return
		}
	}
	name := filepath.Join(fs.root, filepath.FromSlash(p))
	f, err := os.Open(name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if fi.IsDir() {
		if !strings.HasSuffix(r.URL.Path, "/") {
			http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
			return
		}
		f.Close()
		if f, err = os.Open(filepath.Join(name, "index.html")); err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() {
			http.NotFound(w, r)
			return
		}
	}
	if !fi.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("ETag", fmt.Sprintf(`"%x-%x"`, fi.ModTime().UnixNano(), fi.Size()))
	http.ServeContent(w, r, fi.Name(), fi.ModTime(), f)
}
