/** The page script's helpers: elements, formatting, escaping, the key, and the one POST to the API. */
export const CORE = String.raw`const $ = (id) => document.getElementById(id);
$('key').value = sessionStorage.getItem('archon-key') || '';
const fmt = (x, d) => x === null || x === undefined ? '–' : x.toFixed(d);
const pct = (x) => x === null || x === undefined ? '–' : (100 * x).toFixed(1) + '%';
const when = (iso) => iso ? iso.slice(0, 19).replace('T', ' ') : '–';
const esc = (t) => String(t).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const td = (x, cls) => '<td' + (cls ? ' class="' + cls + '"' : '') + '>' + x + '</td>';
const fill = (id, rows) => { $(id).tBodies[0].innerHTML = rows.join(''); };
function apiKey() {
  const key = $('key').value;
  sessionStorage.setItem('archon-key', key);
  return key;
}
async function post(path, body) {
  const res = await fetch(path, { method: 'POST', headers: { authorization: 'Bearer ' + apiKey(), 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = await res.json();
  if (!res.ok) throw new Error(json.error?.message || res.statusText);
  return json;
}
const call = (fn, body) => post('/functions/' + fn, body);`;
