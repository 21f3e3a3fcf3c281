export * from './api-key.entity';
export * from './api-key-authenticator';
export * from './api-key.guard';
export * from './api-key.service';
export * from './api-key.view';
export * from './auth.module';
export * from './keys-cli.module';
