// Extension points for message actions (replies, reactions, edits, deletes: DESIGN §10,
// docs/realtime.md). js/actions.js registers the four actions on them; another feature (say,
// forwarding) adds itself the same way:
//
//   messageActions.push({label: 'Forward', available: (store, chat, msg) => true,
//                        run: (store, chat, msg, ui) => …});   // or render(…, ui, close)
//   messageDecorators.push((store, chat, msg, bubble, ui) => …); // redraws its own part
//   frameHandlers.set('RCT', (store, d) => {                     // store.js
//     const chat = store.chatOfAction(d); if (chat) store.applyReaction(chat, d.id, d.u, d.e); });
//   composerExtras.push((chat) => ({rp: replyToId}));           // merged into the MSG frame
//
// The conversation view gives each message an options button (a sheet of the actions available
// when it is opened), calls every decorator when it draws a message and again whenever the
// message changes (its `rev`), and merges every composer extra into each send. `ui` is the view:
// `ui.composeMode({…})` (the bar above the composer: a reply, an edit), `ui.confirm({…})`,
// `ui.toast(text)`, `ui.reveal(messageId)`.

/**
 * Actions offered in a message's options: {label, available(store, chat, msg), run(store, chat,
 * msg, ui)} (a button; the sheet closes first), or {…, render(store, chat, msg, ui, close)}
 * (draws its own controls, e.g. the reaction picker); `danger: true` colours the button.
 * `available` is asked when the options open (windows such as edit's 15 minutes close).
 */
export const messageActions = [];

/**
 * Called for each message bubble drawn, and again when the message changes:
 * (store, chat, msg, bubbleElement, ui) => void. Each replaces what it drew before.
 */
export const messageDecorators = [];

/** Called once per send: (chat) => extra MSG frame fields (e.g. {rp: messageId}); merged in order. */
export const composerExtras = [];
