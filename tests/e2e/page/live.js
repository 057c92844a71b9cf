// A stand-in for a frontend view kept up to date by the API's event stream: a plain EventSource
// on `${api}/patients/events`, each received patient rendered (or updated in place) as a list item.
// The API base URL comes from the query string, as in app.js.
const API = new URLSearchParams(location.search).get('api');

/** What the test reads: how often the stream opened, errors (reconnects), every event id in arrival order. */
window.__live = { opens: 0, errors: 0, eventIds: [], lastEventId: '' };
let source;

function setState(text) {
  document.getElementById('state').textContent = text;
}

function render(event) {
  const message = JSON.parse(event.data);
  window.__live.eventIds.push(message.eventId);
  window.__live.lastEventId = event.lastEventId;
  let li = document.querySelector(`#live li[data-id="${message.id}"]`);
  if (!message.patient) {
    li?.remove();
    return;
  }
  if (!li) {
    li = document.createElement('li');
    li.dataset.id = String(message.id);
    document.getElementById('live').append(li);
  }
  li.dataset.eventId = String(message.eventId);
  li.textContent = `${message.patient.patientID} ${message.patient.name} (${message.op})`;
}

/** Opens the stream; `after`: resume after this event id (a new EventSource cannot set Last-Event-ID). */
window.__liveOpen = (after) => {
  const url = after ? `${API}/patients/events?lastEventId=${encodeURIComponent(after)}` : `${API}/patients/events`;
  source = new EventSource(url);
  source.onopen = () => {
    window.__live.opens++;
    setState('open');
  };
  source.onerror = () => {
    window.__live.errors++;
    // CONNECTING: the browser reconnects by itself (sending Last-Event-ID); CLOSED: it gave up.
    setState(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
  };
  source.onmessage = render;
};

window.__liveClose = () => {
  source.close();
  setState('closed by the page');
};

window.__liveOpen();
