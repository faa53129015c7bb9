package ws

import "syscall"

// peekReadable reports whether fd has a byte to read, EOF or an error
// pending, without consuming anything; false makes RawConn.Read wait for
// the poller (checking first keeps edge-triggered readiness correct).
func peekReadable(fd uintptr) bool {
	var b [1]byte
	_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err != syscall.EAGAIN
}
