package protocol

// fieldReader is the valueReader of one decode, as a concrete type: the
// decoders pass it to decodeField instead of the interface, whose method
// calls would move the codec's reader to the heap on every decode.
// Exactly one of mp and js is set.
type fieldReader struct {
	mp *mpReader
	js *jsonReader
}

var _ valueReader = fieldReader{}

func (r fieldReader) str() (string, bool) {
	if r.mp != nil {
		return r.mp.str()
	}
	return r.js.str()
}

func (r fieldReader) strs() (list []string, present, ok bool) {
	if r.mp != nil {
		return r.mp.strs()
	}
	return r.js.strs()
}

func (r fieldReader) int() (int64, bool) {
	if r.mp != nil {
		return r.mp.int()
	}
	return r.js.int()
}

func (r fieldReader) boolean() (v, ok bool) {
	if r.mp != nil {
		return r.mp.boolean()
	}
	return r.js.boolean()
}

func (r fieldReader) receipt() bool {
	if r.mp != nil {
		return r.mp.receipt()
	}
	return r.js.receipt()
}

func (r fieldReader) text() (b []byte, isNum, ok bool) {
	if r.mp != nil {
		return r.mp.text()
	}
	return r.js.text()
}

func (r fieldReader) skip() {
	if r.mp != nil {
		r.mp.skip()
		return
	}
	r.js.skip()
}

func (r fieldReader) keepInvalid(on bool) {
	if r.mp != nil {
		r.mp.keepInvalid(on)
		return
	}
	r.js.keepInvalid(on)
}
