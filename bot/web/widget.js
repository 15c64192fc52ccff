/* Embed madoguchi on the city's own site with one tag:
 *   <script src="https://<madoguchi host>/webhooks/web/widget.js" defer></script>
 * Optional: data-label="チャットで相談" data-position="left".
 *
 * It adds one button; the button opens the chat page in a panel (an iframe on the
 * madoguchi origin, so the host page's styles and scripts cannot touch the chat).
 * Styles are set through the DOM, so a host page's Content-Security-Policy for
 * inline <style> does not get in the way.
 *
 * In the iframe (`/?embed=1`, a cross-site frame) the chat cannot keep a SameSite=Strict
 * cookie: its conversation lives for this page load only, as a token in the frame's
 * memory (see channels/web.py). Closing the panel keeps it; reloading the site starts anew. */
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script || window.__madoguchiWidget) return;
  window.__madoguchiWidget = true;

  var origin = new URL(script.src, document.baseURI).origin;
  var label = script.getAttribute('data-label') || 'チャットで相談 / Chat';
  var side = script.getAttribute('data-position') === 'left' ? 'left' : 'right';
  var panelId = 'madoguchi-widget-panel';

  function style(node, rules) { Object.keys(rules).forEach(function (k) { node.style[k] = rules[k]; }); return node; }

  var button = style(document.createElement('button'), {
    position: 'fixed', bottom: '16px', zIndex: '2147483000', minHeight: '48px', minWidth: '48px',
    padding: '10px 18px', border: '2px solid #ffffff', borderRadius: '24px', background: '#1b4f8a',
    color: '#ffffff', font: '700 18px/1.3 "Noto Sans CJK JP", "Hiragino Sans", "Meiryo", sans-serif',
    boxShadow: '0 2px 8px rgba(0,0,0,.35)', cursor: 'pointer'
  });
  button.style[side] = '16px';
  button.type = 'button';
  button.textContent = label;
  button.setAttribute('aria-expanded', 'false');
  button.setAttribute('aria-controls', panelId);

  var panel = style(document.createElement('div'), {
    position: 'fixed', bottom: '76px', zIndex: '2147483000', width: 'min(440px, calc(100vw - 16px))',
    height: 'min(760px, calc(100vh - 92px))', display: 'none', flexDirection: 'column',
    background: '#ffffff', border: '2px solid #15325a', borderRadius: '8px', overflow: 'hidden',
    boxShadow: '0 4px 16px rgba(0,0,0,.35)'
  });
  panel.style[side] = '8px';
  panel.id = panelId;
  panel.setAttribute('role', 'dialog');
  panel.setAttribute('aria-label', label);

  var close = style(document.createElement('button'), {
    alignSelf: 'flex-end', minHeight: '44px', minWidth: '44px', margin: '4px', padding: '6px 12px',
    border: '2px solid #15325a', borderRadius: '6px', background: '#ffffff', color: '#15325a',
    font: '700 16px/1.2 "Noto Sans CJK JP", "Hiragino Sans", "Meiryo", sans-serif', cursor: 'pointer'
  });
  close.type = 'button';
  close.textContent = '閉じる / Close';

  var frame = style(document.createElement('iframe'), { flex: '1', width: '100%', border: '0' });
  frame.title = 'サンプル市 窓口案内チャット / Service Desk Chat';
  // The microphone for speech input; autoplay so 読み上げ can play when its audio arrives after the click.
  frame.setAttribute('allow', 'microphone; autoplay');

  panel.appendChild(close);
  panel.appendChild(frame);

  function open() {
    if (!frame.src) frame.src = origin + '/?embed=1';
    panel.style.display = 'flex';
    button.setAttribute('aria-expanded', 'true');
    close.focus();
  }

  function shut() {
    panel.style.display = 'none';
    button.setAttribute('aria-expanded', 'false');
    button.focus();
  }

  button.addEventListener('click', function () {
    if (panel.style.display === 'none') open(); else shut();
  });
  close.addEventListener('click', shut);
  panel.addEventListener('keydown', function (event) { if (event.key === 'Escape') shut(); });

  function mount() {
    document.body.appendChild(panel);
    document.body.appendChild(button);
  }
  if (document.body) mount(); else document.addEventListener('DOMContentLoaded', mount);
}());
