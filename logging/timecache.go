package logging

import (
	"sync/atomic"
	"time"
)

// stamp is the formatted form of one wall-clock second in time.Local.
// Formatting a date, a clock and a zone costs far more than the few digits
// of the sub-second part, so it is done once per second (the seed's cached
// time buffer) and only the fraction is formatted per record.
type stamp struct {
	sec  int64    // Unix seconds this stamp describes
	text [19]byte // "2006-01-02 15:04:05"
	json [19]byte // "2006-01-02T15:04:05"
	zone [6]byte  // "Z" or "+08:00"
	nz   uint8    // bytes used in zone
}

// lastStamp is shared by every Logger in the process: time.Local is global.
// Goroutines racing at a second boundary may each build a stamp; the last
// store wins and all are correct.
var lastStamp atomic.Pointer[stamp]

// stampFor returns the stamp for t's second, building it on a miss.
func stampFor(t time.Time) *stamp {
	sec := t.Unix()
	if s := lastStamp.Load(); s != nil && s.sec == sec {
		return s
	}
	lt := time.Unix(sec, 0) // in time.Local
	s := &stamp{sec: sec}
	lt.AppendFormat(s.text[:0], "2006-01-02 15:04:05")
	lt.AppendFormat(s.json[:0], "2006-01-02T15:04:05")
	s.nz = uint8(len(lt.AppendFormat(s.zone[:0], "Z07:00")))
	lastStamp.Store(s)
	return s
}

// appendTextTime appends "2006-01-02 15:04:05.000" in time.Local.
func appendTextTime(b []byte, t time.Time) []byte {
	s := stampFor(t)
	b = append(b, s.text[:]...)
	b = append(b, '.')
	return appendDigits(b, uint64(t.Nanosecond()/1e6), 3)
}

// appendJSONTime appends RFC 3339 with microseconds in time.Local, unquoted:
// 2006-01-02T15:04:05.000000+08:00.
func appendJSONTime(b []byte, t time.Time) []byte {
	s := stampFor(t)
	b = append(b, s.json[:]...)
	b = append(b, '.')
	b = appendDigits(b, uint64(t.Nanosecond()/1e3), 6)
	return append(b, s.zone[:s.nz]...)
}

// appendDigits appends v as exactly n decimal digits (v < 10^n).
func appendDigits(b []byte, v uint64, n int) []byte {
	var d [20]byte
	for i := n - 1; i >= 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, d[:n]...)
}
