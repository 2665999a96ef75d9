import t from 'tap';
import { SERVICE_VERSION } from '../src/version.ts';
t.match(SERVICE_VERSION, /^\d+\.\d+\.\d+/);
