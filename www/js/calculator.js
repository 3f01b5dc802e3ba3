// Panel 3: the accept-key calculator, for any key typed in.
import { $, setMark } from './util.js';
import { webCryptoAccept } from './webcrypto.js';

export function initCalculator(sy) {
  const input = $('calc-key');
  let generation = 0;
  const update = async () => {
    const key = input.value;
    const mine = ++generation;
    const valid = $('calc-valid');
    let coreAccept = null;
    if (sy) {
      coreAccept = sy.acceptKey(key);
      $('calc-accept').textContent = coreAccept;
      const ok = sy.isValidKey(key);
      valid.className = `note ${ok ? 'ok' : 'bad'}`;
      valid.textContent = ok
        ? '✓ a valid key: base64 of 16 bytes'
        : '✗ a server would refuse this key (it must be base64 of 16 bytes); the hash works anyway';
    } else {
      $('calc-accept').textContent = 'unavailable: the wasm core failed to load';
    }
    let webAccept;
    try {
      webAccept = await webCryptoAccept(key);
    } catch (error) {
      webAccept = error.message;
    }
    if (mine !== generation) return; // a newer keystroke already took over
    $('calc-webcrypto').textContent = webAccept;
    setMark($('calc-mark'), coreAccept !== null && webAccept === coreAccept, 'agree', 'disagree');
  };
  input.addEventListener('input', update);
  const random = $('calc-random');
  random.disabled = !sy;
  random.addEventListener('click', () => {
    input.value = sy.generateKey();
    update();
  });
  update();
}
