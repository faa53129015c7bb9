// rtgate-js: the rtgate client for browsers and Node.
//
//   const client = await RTGate.connect({ url, appId, peerId, watch: ['bob'] })
//   client.on('message', m => console.log(m.from, m.text))
//   await client.send('bob', 'hi')
//
// AVChatClient is the drop-in replacement of lean-cloud-chat 1.0.4.

export { Client, connect, TRANSPORTS } from './client.js'
export { AVChatClient } from './avchat.js'
export { encode, decode } from './msgpack.js'
export { varint, readVarint, encodeFrame, FrameReader, MAX_FRAME } from './frame.js'
export { check, ordered, kindOf, ProtocolError, ORDER } from './command.js'
export { openWebSocket, openWebTransport, openLongPoll, certificateHashes, fetchJSON } from './transports.js'
export { Emitter, Dedupe, backoff, convId, md5 } from './util.js'
export const version = '0.1.0'
