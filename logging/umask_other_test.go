//go:build !unix

package logging

func syscallUmask(int) func() { return func() {} }
