// require('rtgate-js/avchat') returns AVChatClient, like
// require('lean-cloud-chat') did.
module.exports = require('./dist/rtgate.min.js').AVChatClient
