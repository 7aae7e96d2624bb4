import { MockBinding } from '@serialport/binding-mock';
import { SerialportBackend } from '../../hal/serial/serialport';
import { describeSerialContract } from './serial.contract';

let n = 0;
describeSerialContract('serialport with the mock binding', async () => {
  const path = `/dev/mock${++n}`;
  MockBinding.createPort(path, { echo: false, record: true });
  let device: { emitData(d: string): void; recording: Buffer; getBaudRate(): Promise<{ baudRate: number }> } | undefined;
  const link = await new SerialportBackend(MockBinding, (_p, port) => (device = port.port as typeof device)).open(path, 9600);
  return {
    link,
    deviceSends: (d) => Promise.resolve(device?.emitData(d)),
    deviceReceived: () => Promise.resolve(device?.recording.toString('latin1') ?? ''),
    baudRate: async () => (await device?.getBaudRate())?.baudRate ?? 0,
    cleanup: () => link.close(),
  };
});
